"""Catalog: products, variants (SKUs) and their prices."""
