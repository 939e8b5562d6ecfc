"""Inventory: warehouses, stock levels, reservations."""
