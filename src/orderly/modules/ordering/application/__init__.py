"""Ordering use cases: checkout, saga steps, cancellation, refunds, fulfilment progress."""
