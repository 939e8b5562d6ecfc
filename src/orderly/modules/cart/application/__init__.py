"""Use cases of the cart: open, change, show and merge carts."""
