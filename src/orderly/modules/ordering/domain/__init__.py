"""The ordering domain: orders, their state machine, the checkout saga's state, pricing rules."""
