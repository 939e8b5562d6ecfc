"""Orderly: a headless commerce backend built as a modular monolith."""

__version__ = "0.1.0"
