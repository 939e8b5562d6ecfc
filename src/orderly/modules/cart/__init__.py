"""Cart: shopping carts as documents in Redis (guest and customer carts)."""
