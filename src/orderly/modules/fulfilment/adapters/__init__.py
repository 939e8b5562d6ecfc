"""Fulfilment adapters: tables, repository, HTTP, consumers."""
