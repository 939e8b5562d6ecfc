"""The HTTP edge: problem+json errors, request ids, body limits, health."""
