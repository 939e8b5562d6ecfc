"""Payments: payment intents at a provider, captures, voids and refunds."""
