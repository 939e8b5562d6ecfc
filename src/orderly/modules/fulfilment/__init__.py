"""Fulfilment: shipments of confirmed orders, from creation to delivery."""
