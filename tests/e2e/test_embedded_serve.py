"""`orderly serve` with no settings at all: embedded PostgreSQL, in-process bus and
Redis stand-in, data under ORDERLY_DATA_DIR, kept across a restart.

Runs the real command as a subprocess, so it covers what a newcomer's
`make run` does, start-up migrations included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support.http import product_body

READY_DEADLINE_S = 60.0
STOP_DEADLINE_S = 20.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _zero_config_env(data_dir: Path) -> dict[str, str]:
    """This process's environment without a single Orderly setting but the data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
    env["ORDERLY_DATA_DIR"] = str(data_dir)
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited but is not reaped yet: it is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def _processes() -> dict[int, tuple[list[bytes], int]]:
    """Running (not zombie) processes: pid -> (argv, parent pid)."""
    found: dict[int, tuple[list[bytes], int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\x00")
            state, ppid = (entry / "stat").read_text().rsplit(") ", 1)[-1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            found[int(entry.name)] = (argv, int(ppid))
    return found


def _postmasters(pgdata: Path) -> set[int]:
    """PostgreSQL servers started on ``pgdata`` (their command line names it)."""
    return {
        pid
        for pid, (argv, _) in _processes().items()
        if argv and argv[0].endswith(b"postgres") and str(pgdata).encode() in argv
    }


def _postgres_processes(pgdata: Path) -> set[int]:
    """The servers on ``pgdata`` and their children (which rename themselves)."""
    masters = _postmasters(pgdata)
    return masters | {pid for pid, (_, ppid) in _processes().items() if ppid in masters}


def _stop_postgres(pgdata: Path) -> None:
    """Fast-shutdown whatever PostgreSQL still serves ``pgdata`` (only ours: the path is unique)."""
    for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGKILL, 5.0)):
        pids = _postgres_processes(pgdata)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)


class Server:
    """One `orderly serve` subprocess, its port and its log."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orderly", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=_zero_config_env(data_dir),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self) -> float:
        """Seconds until /readyz answered 200."""
        started = time.monotonic()
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() - started < READY_DEADLINE_S:
                if self.process.poll() is not None:
                    pytest.fail(f"orderly serve exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        pytest.fail(f"/readyz not 200 within {READY_DEADLINE_S}s:\n{self.log_tail()}")

    def terminate(self) -> int:
        """SIGTERM, as a process manager would; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_DEADLINE_S)
                pytest.fail(f"orderly serve ignored SIGTERM for {STOP_DEADLINE_S}s:\n{self.log_tail()}")
        self._log.close()
        return self.process.returncode

    def catalog_token(self, data_dir: Path) -> str:
        """What an operator does on the embedded default to get a back-office token:
        register a service client with the CLI (it joins the running database),
        then ask the token endpoint for a client-credentials token."""
        command = ["clients", "create", "--name", "embedded test", "--scopes", "catalog:write", "--json"]
        created = subprocess.run(
            [sys.executable, "-m", "orderly", *command],
            env=_zero_config_env(data_dir),
            capture_output=True,
            text=True,
            timeout=STOP_DEADLINE_S * 3,
            check=False,
        )
        assert created.returncode == 0, created.stderr[-2000:]
        client = json.loads(created.stdout.strip().splitlines()[-1])
        with httpx.Client(base_url=self.base_url, timeout=10.0) as http:
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "scope": "catalog:write"},
                auth=(client["client_id"], client["client_secret"]),
            )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh data dir; whatever PostgreSQL ends up serving it is stopped afterwards."""
    path = tmp_path / "orderly-data"
    try:
        yield path
    finally:
        _stop_postgres((path / "pg").resolve())


@pytest.fixture
def servers(data_dir: Path, tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait(timeout=STOP_DEADLINE_S)


class TestZeroConfigurationServe:
    def test_serve_on_a_fresh_data_dir_is_ready_serves_products_and_keeps_them_across_a_restart(
        self, data_dir: Path, tmp_path: Path, servers: list[Server], capsys: pytest.CaptureFixture[str]
    ) -> None:
        pgdata = (data_dir / "pg").resolve()

        first = Server(data_dir, tmp_path / "serve-1.log")
        servers.append(first)
        time_to_ready = first.wait_ready()
        with httpx.Client(base_url=first.base_url, timeout=10.0) as client:
            readiness = client.get("/readyz").json()
            assert readiness["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}
            body = product_body(name="Kept mug", sku="KEEP-1")
            anonymous = client.post("/v1/products", json=body)
            assert anonymous.status_code == 401, anonymous.text
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            token = first.catalog_token(data_dir)
            created = client.post("/v1/products", json=body, headers={"Authorization": f"Bearer {token}"})
            assert created.status_code == 201, created.text
            product = created.json()
            fetched = client.get(f"/v1/products/{product['id']}")
            assert fetched.status_code == 200
            assert fetched.json() == product
        postmaster = _postmaster_pid(pgdata)
        assert postmaster is not None, first.log_tail()
        assert _alive(postmaster), first.log_tail()

        exit_code = first.terminate()
        assert exit_code in {0, -signal.SIGTERM}, first.log_tail()
        assert "Application shutdown complete" in first.log_path.read_text(), first.log_tail()
        postgres_outlived_serve = _alive(postmaster)

        second = Server(data_dir, tmp_path / "serve-2.log")
        servers.append(second)
        time_to_ready_again = second.wait_ready()
        with httpx.Client(base_url=second.base_url, timeout=10.0) as client:
            again = client.get(f"/v1/products/{product['id']}")
            assert again.status_code == 200, again.text
            assert again.json() == product
            listed = client.get("/v1/products").json()
            assert [p["id"] for p in listed["items"]] == [product["id"]]

        # One server per data dir, ever: either the first one stopped with serve
        # and a new one started, or the second start joined the one still running.
        serving = _postmaster_pid(pgdata)
        assert serving is not None
        assert _postmasters(pgdata) == {serving}
        if postgres_outlived_serve:
            assert serving == postmaster

        assert second.terminate() in {0, -signal.SIGTERM}, second.log_tail()
        _stop_postgres(pgdata)
        assert _postgres_processes(pgdata) == set()
        with capsys.disabled():
            print(
                f"\n[embedded serve] /readyz 200 after {time_to_ready:.2f}s on a fresh data dir, "
                f"{time_to_ready_again:.2f}s on restart; PostgreSQL "
                f"{'outlived serve and was reused' if postgres_outlived_serve else 'stopped with serve'}"
            )
