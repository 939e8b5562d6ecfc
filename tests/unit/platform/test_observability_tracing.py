"""Tracing is configured only by an OTLP endpoint, and then with the right resource and sampler."""

from __future__ import annotations

import pytest
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from orderly.platform.observability.tracing import build_tracer_provider, otlp_traces_endpoint
from orderly.platform.settings import Settings
from tests.support.observability import CALLER_TRACEPARENT


class TestEndpoint:
    def test_no_endpoint_anywhere_means_no_tracing(self) -> None:
        assert otlp_traces_endpoint(Settings(), environ={}) is None

    def test_orderly_setting_is_a_base_url_the_traces_path_is_added_to(self) -> None:
        settings = Settings(otel_exporter_otlp_endpoint="http://collector:4318/")

        assert otlp_traces_endpoint(settings, environ={}) == "http://collector:4318/v1/traces"

    def test_orderly_setting_wins_over_the_standard_variable(self) -> None:
        settings = Settings(otel_exporter_otlp_endpoint="http://ours:4318")
        environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://theirs:4318"}

        assert otlp_traces_endpoint(settings, environ=environ) == "http://ours:4318/v1/traces"

    def test_standard_base_variable_is_honoured(self) -> None:
        environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}

        assert otlp_traces_endpoint(Settings(), environ=environ) == "http://collector:4318/v1/traces"

    def test_standard_traces_variable_is_a_full_url_used_as_it_is(self) -> None:
        environ = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector/custom/path"}

        assert otlp_traces_endpoint(Settings(), environ=environ) == "https://collector/custom/path"

    def test_a_base_url_already_ending_in_the_traces_path_is_not_doubled(self) -> None:
        settings = Settings(otel_exporter_otlp_endpoint="http://collector:4318/v1/traces")

        assert otlp_traces_endpoint(settings, environ={}) == "http://collector:4318/v1/traces"


class TestProvider:
    @pytest.fixture(autouse=True)
    def _no_standard_variables(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_SERVICE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES",
        ):
            monkeypatch.delenv(name, raising=False)

    def test_without_an_endpoint_no_provider_is_built(self) -> None:
        assert build_tracer_provider(Settings(), role="api") is None

    def test_provider_names_the_service_and_the_role(self) -> None:
        settings = Settings(
            otel_exporter_otlp_endpoint="http://127.0.0.1:1", otel_service_name="shop", env="test"
        )

        provider = build_tracer_provider(settings, role="worker")

        assert provider is not None
        try:
            attributes = provider.resource.attributes
            assert attributes["service.name"] == "shop"
            assert attributes["orderly.role"] == "worker"
            assert attributes["deployment.environment.name"] == "test"
        finally:
            provider.shutdown()

    def test_sample_ratio_drops_new_traces_but_follows_a_sampled_caller(self) -> None:
        settings = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:1", otel_sample_ratio=0.0)

        provider = build_tracer_provider(settings, role="api")

        assert provider is not None
        try:
            tracer = provider.get_tracer("test")
            caller = TraceContextTextMapPropagator().extract({"traceparent": CALLER_TRACEPARENT})
            assert not tracer.start_span("new trace").is_recording()
            assert tracer.start_span("caller's trace", context=caller).is_recording()
        finally:
            provider.shutdown()

    def test_standard_resource_variables_win_over_orderlys_defaults(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_SERVICE_NAME", "shop-eu")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=checkout")
        settings = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:1", env="production")

        provider = build_tracer_provider(settings, role="relay")

        assert provider is not None
        try:
            attributes = provider.resource.attributes
            assert attributes["service.name"] == "shop-eu"
            assert attributes["deployment.environment.name"] == "staging"
            assert attributes["team"] == "checkout"
            assert attributes["orderly.role"] == "relay"
        finally:
            provider.shutdown()
