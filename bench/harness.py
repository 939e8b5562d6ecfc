"""What the benchmarks share: the figures they report, the app under test in a
subprocess, and the two load drivers they compare it with (wrk and pgbench).

Every benchmark runs against 127.0.0.1 only; ``local_only`` refuses anything else.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from orderly.platform.db import async_url

ADMIN_URL = os.environ.get("ORDERLY_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HERE = Path(__file__).resolve().parent

# wrk's summary as one JSON line: a ``done`` callback for wrk's Lua scripts.
WRK_DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Figures:
    name: str
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def figures(name: str, latencies: list[float], seconds: float, errors: int = 0) -> Figures:
    """Figures from per-request latencies in seconds."""
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return Figures(name, len(latencies), seconds, cuts[49] * 1000, cuts[98] * 1000, errors)


def local_only(url: str = ADMIN_URL) -> None:
    if make_url(url).host not in {"127.0.0.1", "localhost"}:
        sys.exit("benchmarks only run against 127.0.0.1")


async def admin(sql: str) -> None:
    """One statement on the admin database, outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_async_engine(async_url(ADMIN_URL), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


def scratch_database_url(database: str) -> str:
    return make_url(ADMIN_URL).set(database=database).render_as_string(hide_password=False)


# -- the app under test ----------------------------------------------------------------------------


def pinned(cpu: int, command: list[str]) -> list[str]:
    """The server on one core and the load generator on the other, when there are two,
    so they do not steal each other's time slices."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu), *command]
    return command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_app(factory: str, port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``uvicorn`` with one worker on CPU 1, serving ``module:factory`` from bench/."""
    command = [
        sys.executable, "-m", "uvicorn", factory, "--factory",
        "--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(pinned(1, command), env={**os.environ, **env})


async def wait_ready(base: str, path: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get(path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the app did not start")


# -- load drivers ------------------------------------------------------------------------------------


def run_wrk(
    name: str,
    base: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    script_args: list[str],
    files: Mapping[str, str] | None = None,
) -> Figures:
    """wrk on CPU 0 with two threads; ``script`` is the Lua without its ``done`` callback.
    ``files`` are written next to the script (their paths are ``{tmp}`` in ``script_args``).
    Figures count the requests that got a 2xx/3xx answer."""
    with tempfile.TemporaryDirectory(prefix="orderly-bench-") as tmp:
        script_file = Path(tmp, "load.lua")
        script_file.write_text(script + WRK_DONE)
        for file_name, content in (files or {}).items():
            Path(tmp, file_name).write_text(content)
        command = [
            "wrk", "-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script_file), base, "--", *(arg.format(tmp=tmp) for arg in script_args),
        ]  # fmt: skip
        out = subprocess.run(pinned(0, command), capture_output=True, text=True, check=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return Figures(
        name,
        data["requests"] - data["errors"],
        data["duration_us"] / 1e6,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
        data["errors"],
    )


def find_pgbench() -> str:
    found = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    if not Path(found).exists():
        sys.exit("pgbench not found (install PostgreSQL's client tools)")
    return found


def run_pgbench(
    name: str, url: str, script: str, *, seconds: int, clients: int, cpu: int | None = 0
) -> Figures:
    """``script`` (pgbench's format) with ``clients`` connections for ``seconds``, pinned to
    ``cpu`` unless None; latencies from pgbench's per-transaction log, failed transactions
    counted as errors."""
    parsed = make_url(url)
    with tempfile.TemporaryDirectory(prefix="orderly-bench-") as tmp:
        script_file = Path(tmp, "script.sql")
        script_file.write_text(script)
        command = [
            find_pgbench(), "-n", "-c", str(clients), "-j", "2", "-T", str(seconds),
            "-f", str(script_file), "-l", f"--log-prefix={tmp}/log",
            "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432),
            "-U", parsed.username or "postgres", parsed.database or "postgres",
        ]  # fmt: skip
        done = subprocess.run(
            command if cpu is None else pinned(cpu, command),
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 60,
        )
        if done.returncode != 0:
            sys.exit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
        latencies = [
            int(line.split()[2]) / 1_000_000
            for log in Path(tmp).glob("log*")
            for line in log.read_text().splitlines()
        ]
    failed = next((line for line in done.stdout.splitlines() if "failed transactions" in line), "")
    errors = int(failed.split(":")[1].split()[0]) if failed else 0
    return figures(name, latencies, float(seconds), errors)
