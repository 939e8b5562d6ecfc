"""Bounded contexts. Each reaches another only through its ``api`` or ``contracts``."""
