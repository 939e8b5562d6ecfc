"""Ordering: checkout, orders and the checkout saga over inventory and payments."""
