"""The ``orderly`` command: serve, migrate, relay, worker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable

import click
import structlog

from orderly.platform.logging import configure_logging
from orderly.platform.settings import Settings, SettingsError, load_settings

log = structlog.get_logger(module="cli")


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    configure_logging(level=settings.log_level, json=settings.log_json)
    return settings


def _database_url(settings: Settings, *, migrate_embedded: bool = True) -> str:
    if settings.database_url is not None:
        return settings.database_url
    from orderly.platform import migrations
    from orderly.platform.embedded import start_embedded_postgres

    url = start_embedded_postgres(settings.data_dir)
    log.info("embedded postgres ready", data_dir=str(settings.data_dir.resolve()))
    if migrate_embedded:
        migrations.upgrade(url)
    return url


def _modules(value: str | None) -> list[str] | None:
    return [m.strip() for m in value.split(",") if m.strip()] if value else None


modules_option = click.option(
    "--modules", default=None, help="Comma-separated modules to run (default: all)."
)


@click.group()
def main() -> None:
    """Orderly, a headless commerce backend."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port", type=int, default=lambda: int(os.environ.get("PORT", "8000")), show_default="8000 or $PORT"
)
@modules_option
@click.option(
    "--background/--no-background",
    default=None,
    help="Also run the outbox relay and consumers here (default: only with the in-process bus).",
)
def serve(host: str, port: int, modules: str | None, background: bool | None) -> None:
    """Serve the HTTP API (on the embedded default: the whole system in one process)."""
    import uvicorn

    from orderly.entrypoints.api import create_app
    from orderly.entrypoints.bootstrap import build_container

    settings = _settings()
    url = _database_url(settings)
    container = build_container(settings, database_url=url, module_names=_modules(modules))
    run_background = container.in_process_bus if background is None else background
    app = create_app(container, run_background=run_background)
    log.info("serving", host=host, port=port, background=run_background)
    _exit_cleanly_on_sigterm()
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, server_header=False)


@main.command()
@click.option("--revision", default="heads", show_default=True)
@click.option("--down", is_flag=True, help="Downgrade to --revision instead of upgrading.")
def migrate(revision: str, down: bool) -> None:
    """Apply (or roll back) database migrations."""
    from orderly.platform import migrations

    settings = _settings()
    url = _database_url(settings, migrate_embedded=False)
    if down:
        migrations.downgrade(url, revision)
    else:
        migrations.upgrade(url, revision)
    click.echo(f"database at {'base' if down and revision == 'base' else revision}")


@main.command("check-migrations")
def check_migrations() -> None:
    """Fail if the table definitions and the migrations disagree (alembic check)."""
    from orderly.platform import migrations

    settings = _settings()
    migrations.check(_database_url(settings, migrate_embedded=False))
    click.echo("models and migrations agree")


@main.command("make-migration")
@click.option("--module", "module_name", required=True, help="The module whose schema changed.")
@click.option("-m", "--message", required=True)
@click.option("--rev-id", required=True, help="e.g. inventory_0002")
def make_migration(module_name: str, message: str, rev_id: str) -> None:
    """Autogenerate a module's next migration (database must be at heads)."""
    from orderly.platform import migrations

    settings = _settings()
    migrations.make_migration(
        _database_url(settings, migrate_embedded=False), module=module_name, message=message, rev_id=rev_id
    )


@main.command()
@modules_option
def relay(modules: str | None) -> None:
    """Publish committed outbox rows to the broker (several may run at once)."""
    from orderly.entrypoints.bootstrap import build_container

    settings = _settings()
    if settings.broker_url is None:
        raise click.UsageError(
            "the relay needs ORDERLY_BROKER_URL; with the in-process bus it runs inside serve"
        )
    container = build_container(
        settings, database_url=_database_url(settings), module_names=_modules(modules)
    )

    async def run(stop: asyncio.Event) -> None:
        await container.start()
        try:
            await container.relay().run_forever(stop)
        finally:
            await container.close()

    _run_until_signal(run)


@main.command()
@modules_option
def worker(modules: str | None) -> None:
    """Run the modules' message consumers (competing consumers: scale freely)."""
    from orderly.entrypoints.bootstrap import build_container

    settings = _settings()
    if settings.broker_url is None:
        raise click.UsageError(
            "the worker needs ORDERLY_BROKER_URL; with the in-process bus it runs inside serve"
        )
    container = build_container(
        settings, database_url=_database_url(settings), module_names=_modules(modules)
    )

    async def run(stop: asyncio.Event) -> None:
        await container.start()
        try:
            await container.start_consumers()
            container.start_background_tasks()
            log.info("worker consuming", consumers=[s.consumer for s in container.subscriptions()])
            await stop.wait()
        finally:
            await container.close()

    _run_until_signal(run)


@main.command("payment-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8099, show_default=True)
@click.option(
    "--webhook-url",
    envvar="ORDERLY_PAYMENT_SIM_WEBHOOK_URL",
    default="http://127.0.0.1:8000/v1/payments/webhooks/sim",
    show_default=True,
    help="Where to post signed webhooks ('' for none).",
)
@click.option(
    "--webhook-secret",
    envvar="ORDERLY_PAYMENT_WEBHOOK_SECRET",
    default=None,
    help="Signing secret shared with Orderly [env ORDERLY_PAYMENT_WEBHOOK_SECRET; default: the dev secret].",
)
@click.option("--latency-ms", type=click.IntRange(0, 60_000), default=0, show_default=True)
@click.option("--decline-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option(
    "--error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True, help="500 before any work."
)
@click.option("--timeout-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--timeout-delay-s", type=click.FloatRange(0, 600), default=5.0, show_default=True)
@click.option(
    "--charge-then-error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="500 after the work (the charge) was done.",
)
@click.option("--seed", type=int, default=None, help="Seed the fault draws (reproducible runs).")
def payment_sim(
    host: str,
    port: int,
    webhook_url: str,
    webhook_secret: str | None,
    latency_ms: int,
    decline_rate: float,
    error_rate: float,
    timeout_rate: float,
    timeout_delay_s: float,
    charge_then_error_rate: float,
    seed: int | None,
) -> None:
    """Run the simulated payment provider (state in memory, lost on exit)."""
    import uvicorn

    from orderly.paymentsim.app import build_service, create_app
    from orderly.paymentsim.config import DEV_WEBHOOK_SECRET, Faults, SimulatorConfig, WebhookConfig

    configure_logging(level="INFO", json=False)
    try:
        faults = Faults(
            latency_ms=latency_ms,
            decline_rate=decline_rate,
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            timeout_delay_s=timeout_delay_s,
            charge_then_error_rate=charge_then_error_rate,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    config = SimulatorConfig(
        faults=faults,
        webhooks=WebhookConfig(url=webhook_url or None, secret=webhook_secret or DEV_WEBHOOK_SECRET),
        seed=seed,
    )
    app = create_app(build_service(config))
    log.info("payment simulator", host=host, port=port, webhook_url=webhook_url or None, faults=vars(faults))
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, server_header=False)


def _exit_cleanly_on_sigterm() -> None:
    """After a graceful shutdown uvicorn re-raises the signal it caught; with the
    default SIGTERM action the process would die without running atexit hooks,
    leaving the embedded PostgreSQL running. Turn it into a normal exit."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def _run_until_signal(run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    async def main_task() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run(stop)

    asyncio.run(main_task())


if __name__ == "__main__":  # pragma: no cover
    main()
