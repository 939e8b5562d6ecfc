"""Where the metrics are read: GET /metrics on the API, or a listener of its own.

Both answer in Prometheus's text exposition format. Neither belongs on the
public internet (route names, queue depths and error rates tell an attacker
a lot): in Kubernetes the API's /metrics is switched off
(``ORDERLY_METRICS_ON_API=false``) and Prometheus scrapes ``metrics_port``,
which no Service or Ingress routes.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.responses import Response


def metrics_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics of this process (text exposition format)."""
        # A plain def: FastAPI runs it in the threadpool, so rendering a large
        # registry never stalls the event loop.
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router


class MetricsServer:
    """The separate metrics listener (prometheus-client's, in a daemon thread)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(*, host: str, port: int) -> MetricsServer:
    """Serve every metric of this process on ``host:port`` (GET any path)."""
    server, thread = start_http_server(port, addr=host)
    return MetricsServer(server, thread)


class _PoolCollector(Collector):
    """Reads the connection pools at scrape time: nothing on the query path."""

    def __init__(self) -> None:
        self._engines: weakref.WeakValueDictionary[str, AsyncEngine] = weakref.WeakValueDictionary()

    def watch(self, name: str, engine: AsyncEngine) -> None:
        self._engines[name] = engine

    def collect(self) -> Iterator[Metric]:
        in_use = GaugeMetricFamily(
            "orderly_db_pool_connections_in_use", "Connections checked out of the pool.", labels=["pool"]
        )
        idle = GaugeMetricFamily(
            "orderly_db_pool_connections_idle", "Open connections waiting in the pool.", labels=["pool"]
        )
        size = GaugeMetricFamily(
            "orderly_db_pool_size", "Connections the pool keeps (overflow comes on top).", labels=["pool"]
        )
        for name, engine in list(self._engines.items()):
            pool = engine.sync_engine.pool
            if isinstance(pool, QueuePool):
                in_use.add_metric([name], pool.checkedout())
                idle.add_metric([name], pool.checkedin())
                size.add_metric([name], pool.size())
        yield in_use
        yield idle
        yield size


_pools = _PoolCollector()
REGISTRY.register(_pools)


def watch_pool(engine: AsyncEngine, *, name: str = "primary") -> None:
    """Export ``engine``'s pool usage under ``pool=name`` (the latest engine wins a name)."""
    _pools.watch(name, engine)
