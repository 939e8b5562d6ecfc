"""Fulfilment use cases: follow confirmed orders, create, ship and deliver shipments."""
