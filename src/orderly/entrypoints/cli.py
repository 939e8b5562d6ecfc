"""The ``orderly`` command: serve, migrate, relay, worker, prune."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
import structlog

from orderly.platform.logging import configure_logging
from orderly.platform.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from orderly.entrypoints.bootstrap import Container
    from orderly.platform.observability.exposition import MetricsServer

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
    start_observability(settings, role="api", container=container)
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


@main.command("seed-demo")
@click.option("--products", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@click.option(
    "--variants-per-product",
    type=click.IntRange(1, 24),
    default=4,
    show_default=True,
    help="SKUs per product.",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Random seed (same seed, same catalog)."
)
@click.option("--reset", is_flag=True, help="Empty the catalog's tables first.")
def seed_demo(products: int, variants_per_product: int, seed: int, reset: bool) -> None:
    """Bulk-load a demo catalog (COPY): products, variants, prices, categories, stock.

    Writes the catalog's tables directly, so no events are published (inventory
    does not learn the demo SKUs). `--products 25000` gives 100,000 variants.
    """
    from orderly.modules.catalog.adapters.seed import seed_demo_catalog
    from orderly.platform.db import create_engine

    settings = _settings()
    engine = create_engine(settings, _database_url(settings), pool_size=2)

    async def run() -> None:
        try:
            report = await seed_demo_catalog(
                engine, products=products, variants_per_product=variants_per_product, seed=seed, reset=reset
            )
        finally:
            await engine.dispose()
        click.echo(
            f"seeded {report.products} products, {report.variants} variants, {report.prices} prices, "
            f"{report.categories} categories in {report.seconds} s"
        )

    asyncio.run(run())


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
    start_observability(settings, role="relay", container=container)

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
    start_observability(settings, role="worker", container=container)

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


@main.command()
@modules_option
def prune(modules: str | None) -> None:
    """Delete published outbox rows and inbox rows past their retention, one pass (for cron).

    Prints the rows deleted per module and table as JSON. The worker (or serve
    with the in-process bus) already prunes every ORDERLY_RETENTION_INTERVAL_S.
    """
    import json

    from orderly.entrypoints import registry
    from orderly.platform.db import create_engine
    from orderly.platform.retention import RetentionConfig, RetentionPruner

    settings = _settings()
    try:
        module_classes = registry.resolve(_modules(modules))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    engine = create_engine(settings, _database_url(settings), pool_size=1)
    pruner = RetentionPruner(
        engine, [m.metadata for m in module_classes], RetentionConfig.from_settings(settings)
    )

    async def run() -> None:
        try:
            report = await pruner.prune_once()
        finally:
            await engine.dispose()
        click.echo(json.dumps({module: pruned.deleted for module, pruned in report.items()}))
        busy = [module for module, pruned in report.items() if pruned.busy]
        if busy:
            click.echo(f"another process was pruning {', '.join(busy)}; left to it", err=True)

    asyncio.run(run())


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


# Identity operators' commands: OAuth clients, staff accounts, signing keys.

T = TypeVar("T")


def _run_identity(action: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``action(identity_module)`` against the configured database, then release it."""
    from orderly.entrypoints.bootstrap import build_container
    from orderly.modules.identity.module import IdentityModule
    from orderly.platform.messaging.inprocess import InProcessBus
    from orderly.platform.redis import create_redis
    from orderly.shared_kernel.errors import DomainError

    settings = _settings()
    container = build_container(
        settings,
        database_url=_database_url(settings),
        module_names=["identity"],
        # Operator commands publish nothing and count no attempts: no broker, no Redis.
        bus=InProcessBus(delivery_limit=settings.consumer_delivery_limit),
        redis=create_redis(None),
    )
    identity = next(m for m in container.modules if isinstance(m, IdentityModule))

    async def run() -> T:
        try:
            return await action(identity)
        finally:
            await container.close()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None


@main.group()
def clients() -> None:
    """OAuth 2.0 clients: the applications that ask Orderly for tokens."""


@clients.command("create")
@click.option("--name", required=True, help="Shown on the sign-in page.")
@click.option(
    "--scopes", required=True, help='Space-separated scopes the client may request, e.g. "inventory:read".'
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Makes a sign-in client (authorization code + PKCE); exact URI, repeatable.",
)
@click.option("--public", is_flag=True, help="No secret: browser and mobile apps, which cannot keep one.")
@click.option(
    "--sign-in",
    type=click.Choice(["customer", "staff"]),
    default=None,
    help="Who signs in through it (default: customer when --redirect-uri is given).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (client_id, client_secret, ...)."
)
def clients_create(
    name: str, scopes: str, redirect_uris: tuple[str, ...], public: bool, sign_in: str | None, as_json: bool
) -> None:
    """Register a client. Without --redirect-uri it is a service client (client
    credentials). The secret is printed once and stored only as a digest."""
    import json

    from orderly.modules.identity.application.commands import CreateClient

    if sign_in is not None and not redirect_uris:
        raise click.UsageError("--sign-in needs at least one --redirect-uri")
    who = sign_in or ("customer" if redirect_uris else None)
    command = CreateClient(
        name=name,
        scopes=scopes,
        redirect_uris=redirect_uris,
        public=public,
        sign_in="staff" if who == "staff" else "customer" if who == "customer" else None,
    )
    created = _run_identity(lambda identity: identity.create_client(command))
    client = created.client
    record = {
        "client_id": client.client_id,
        "client_secret": created.client_secret,
        "name": client.name,
        "scopes": sorted(client.scopes),
        "redirect_uris": list(client.redirect_uris),
        "public": client.is_public,
        "sign_in": client.sign_in,
    }
    if as_json:
        click.echo(json.dumps(record))
        return
    for key, value in record.items():
        click.echo(f"{key}: {value}")
    if created.client_secret:
        click.echo("The secret is shown only now; store it in your secret manager.", err=True)


@main.group()
def staff() -> None:
    """Staff accounts (they sign in through a staff sign-in client)."""


@staff.command("create")
@click.option("--email", required=True)
@click.option(
    "--role",
    required=True,
    help="admin, catalog_manager, inventory_manager or support (each maps to scopes).",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input."
)
def staff_create(email: str, role: str, password_stdin: bool) -> None:
    """Create a staff member with a role. The password is prompted for (hidden, twice)
    unless --password-stdin is given; it never appears on the command line."""
    from orderly.modules.identity.application.commands import CreateStaffMember

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    command = CreateStaffMember(email=email, password=password, role=role)
    staff_id = _run_identity(lambda identity: identity.create_staff_member(command))
    click.echo(f"staff member {staff_id} created with role {role}")


@main.group()
def keys() -> None:
    """Access-token signing keys."""


@keys.command("rotate")
@click.option(
    "--force", is_flag=True, help="Promote the next key even if verifiers may not have fetched it yet."
)
def keys_rotate(force: bool) -> None:
    """Let the published next key start signing, retire the active key (it stays in the
    JWKS until its last token expires) and publish a new next key."""
    from orderly.modules.identity.domain.keys import RotationRefused

    try:
        result = _run_identity(lambda identity: identity.rotate_keys(force=force))
    except RotationRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"active: {result.active}")
    click.echo(f"next: {result.next}")
    if result.retired:
        click.echo(
            f"retired: {result.retired} (published until {result.retired_published_until.isoformat()})"
        )


def start_observability(settings: Settings, *, role: str, container: Container) -> MetricsServer | None:
    """Tracing if an OTLP endpoint is set; the metrics listener (returned) if a port is."""
    from orderly.platform.observability.exposition import start_metrics_server, watch_pool
    from orderly.platform.observability.tracing import configure_tracing

    configure_tracing(settings, role=role)
    watch_pool(container.engine)
    if settings.metrics_port is None:
        return None
    server = start_metrics_server(host=settings.metrics_host, port=settings.metrics_port)
    log.info("metrics listening", host=settings.metrics_host, port=server.port)
    return server


def _exit_cleanly_on_sigterm() -> None:
    """After a graceful shutdown uvicorn re-raises the signal it caught; with the
    default SIGTERM action the process would die without running atexit hooks,
    leaving the embedded PostgreSQL running. Turn it into a normal exit."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(0)

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
