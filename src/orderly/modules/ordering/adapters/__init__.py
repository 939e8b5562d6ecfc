"""Ordering adapters: tables, repository, queries, HTTP, consumers, sweep."""
