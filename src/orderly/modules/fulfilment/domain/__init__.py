"""The fulfilment domain: an order's shipments and the rules that keep them within the order."""
