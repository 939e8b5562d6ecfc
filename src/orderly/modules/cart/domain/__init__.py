"""The cart's rules: lines, limits, merging and pricing a cart for display. No I/O."""
