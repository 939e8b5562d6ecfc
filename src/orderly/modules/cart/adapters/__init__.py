"""The cart's adapters: the Redis store, the HTTP router, the facade."""
