"""Metrics (Prometheus), traces (OpenTelemetry) and their correlation with logs.

See docs/observability.md. The submodules are imported where they are used
(the bus adapters and the relay import only what they need), so this package
adds nothing to an import cycle.
"""
