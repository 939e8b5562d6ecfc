"""Reading Orderly's metrics and capturing its spans in tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from orderly.platform.observability.tracing import use_tracer_provider

# A W3C traceparent as an upstream caller (a gateway, a storefront) would send it.
CALLER_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN_ID = 0x00F067AA0BA902B7
CALLER_TRACEPARENT = f"00-{CALLER_TRACE_ID:032x}-{CALLER_SPAN_ID:016x}-01"


def sample(name: str, **labels: str) -> float:
    """The current value of one series in this process's registry (0 if it does not exist yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a text exposition, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class SpanCapture:
    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def of_kind(self, kind: trace.SpanKind) -> list[ReadableSpan]:
        return [span for span in self.all() if span.kind is kind]

    def named(self, name: str) -> ReadableSpan:
        matches = [span for span in self.all() if span.name == name]
        assert len(matches) == 1, (name, [span.name for span in self.all()])
        return matches[0]


@contextmanager
def capturing_spans() -> Iterator[SpanCapture]:
    """Switch tracing on for the block, every span kept in memory; off again afterwards."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    use_tracer_provider(provider)
    try:
        yield SpanCapture(exporter)
    finally:
        use_tracer_provider(None)
        provider.shutdown()


def traceparent_ids(traceparent: str) -> tuple[int, int]:
    """(trace id, parent span id) of a W3C traceparent header."""
    version, trace_id, span_id, _flags = traceparent.split("-")
    assert version == "00", traceparent
    return int(trace_id, 16), int(span_id, 16)
