"""Run the simulator on a real socket inside a running event loop.

Used by ``orderly serve`` on the embedded default (through the payments
module) and by the tests: it listens on 127.0.0.1, on an ephemeral port unless
told otherwise, so several copies never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx
import uvicorn

from orderly.paymentsim.app import SimulatorService, build_service, create_app
from orderly.paymentsim.config import SimulatorConfig


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The host process owns SIGINT/SIGTERM; an embedded server that took
        # them over would swallow the host's shutdown.
        yield


class RunningSimulator:
    """A simulator served by uvicorn as a task of the current event loop."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.service: SimulatorService = build_service(config, webhook_client=webhook_client)
        self._config = uvicorn.Config(
            create_app(self.service),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self._server = _EmbeddedServer(self._config)
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self, timeout_s: float = 10.0) -> str:
        """Start serving; returns the base URL (with the port actually bound)."""
        self._task = asyncio.get_running_loop().create_task(self._serve())
        async with asyncio.timeout(timeout_s):
            while not self._server.started:
                if self._task.done():
                    self._task.result()  # raises what stopped it
                    raise RuntimeError("payment simulator stopped during start-up")
                await asyncio.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
        except TimeoutError:
            self._task.cancel()
        self._task = None

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit as exc:
            # uvicorn exits the process when it cannot bind; a host must not die of it.
            raise RuntimeError(f"payment simulator could not start (exit {exc.code})") from None

    async def __aenter__(self) -> RunningSimulator:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
