"""Concepts every module shares: money, identifiers, aggregate and event bases, errors.

Nothing here performs I/O or imports a framework.
"""
