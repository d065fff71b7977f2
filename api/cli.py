"""The command line: `python app.py COMMAND`: serve, demo, migrate, collect, seed,
backfill-alerts, watch, receive-webhooks, settings.

Flags override the environment, which overrides the defaults (api/settings.py). Each command
prints what it did in one or two lines, and errors as one line on stderr with exit code 2:
a person at a terminal should never have to read a traceback to learn what went wrong.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any, Callable

from api.settings import SETTINGS, ConfigError, load_config

log = logging.getLogger("pipewatch.cli")


def _database_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", metavar="URL",
                        help="database to use (default: $DATABASE_URL, else the local SQLite file)")


def _server_flags(parser: argparse.ArgumentParser) -> None:
    _database_flag(parser)
    parser.add_argument("--host", help="address to listen on (default: $HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8050)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="pipewatch: live pipeline-health and data-quality monitor.",
        epilog="Settings come from the environment (see README, or `python app.py settings`).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the dashboard, REST API and WebSocket",
                                description="Migrate the database, then serve the app.")
    _server_flags(serve)

    demo = commands.add_parser(
        "demo", help="seed demo history if the database is empty, then serve with a simulator",
        description="Migrate, seed 30 days of demo history when the database is empty, then "
                    "serve with a simulated pipeline writing new data every few seconds.")
    _server_flags(demo)
    demo.add_argument("--days", type=int, default=30, help="days of history to seed (default 30)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    migrate = commands.add_parser("migrate", help="upgrade (or downgrade) the database schema",
                                  description="Run Alembic migrations on the configured database.")
    _database_flag(migrate)
    migrate.add_argument("revision", nargs="?", default="head",
                         help="target revision (default head); with --down, e.g. -1 or base")
    migrate.add_argument("--down", action="store_true", help="downgrade to REVISION instead")

    collect = commands.add_parser("collect", help="write one cycle of data-quality metric rows",
                                  description="Compute aggregate, per-source and hourly metric "
                                              "rows from conflicts (safe to run from cron).")
    _database_flag(collect)
    collect.add_argument("--now", help="end of the cycle, ISO 8601 with zone (default: now)")

    seed = commands.add_parser("seed", help="write realistic demo history",
                               description="Write demo sources, scrape runs, conflicts, "
                                           "forecasts and metric rows, with injected incidents.")
    _database_flag(seed)
    seed.add_argument("--days", type=int, default=30, help="days of history (default 30)")
    seed.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    seed.add_argument("--if-empty", action="store_true",
                      help="do nothing (exit 0) when the database already has data")

    watch = commands.add_parser(
        "watch", help="print each status document the WebSocket pushes",
        description="Connect to a running pipewatch's WebSocket and print each pushed status "
                    "document as a JSON line (or one readable line with --brief); reconnects "
                    "when the connection drops. Ctrl-C stops.")
    watch.add_argument("url", nargs="?", default=None,
                       help="the server (http://host:port) or the socket's ws:// URL "
                            "(default: the local server on $PORT or 8050)")
    watch.add_argument("--brief", action="store_true",
                       help="one line per document: seq, statuses, alerts, anomalies")
    watch.add_argument("--count", type=int, metavar="N", help="stop after N documents")
    watch.add_argument("--token", help="the read token (default: $PIPEWATCH_READ_TOKEN); "
                                       "sent as a header, never printed")
    backfill = commands.add_parser(
        "backfill-alerts", help="record the alert history of the days before the lifecycle",
        description="Replay the alert periods the metric rows and scrape runs imply through "
                    "the alert lifecycle, as the evaluator would have recorded them, for a "
                    "database upgraded from before migration 006. Does nothing when the "
                    "database already has alert history (safe to run twice).")
    _database_flag(backfill)
    backfill.add_argument("--days", type=int, default=30, help="days back from now (default 30)")

    receive = commands.add_parser(
        "receive-webhooks", help="print the webhooks pipewatch sends (a receiver for the demo)",
        description="Listen for pipewatch's webhooks and print one line each, checking the "
                    "signature with WEBHOOK_SECRET. Point WEBHOOK_URLS at it.")
    receive.add_argument("--host", dest="listen_host", default="127.0.0.1",
                         help="address (default 127.0.0.1)")
    receive.add_argument("--port", dest="listen_port", type=int, default=9099,
                         help="port (default 9099)")

    settings = commands.add_parser("settings", help="list every setting with its default and help",
                                   description="Print the settings table.")
    settings.add_argument("--markdown", action="store_true", help="as a Markdown table")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for flag, name in (("database_url", "DATABASE_URL"), ("host", "HOST"), ("port", "PORT")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[name] = value
    return overrides


def _open_database(config: dict[str, Any]):
    from api.storage import migrate
    from api.storage.db import Database, Waits

    db = Database(config["DATABASE_URL"], Waits.from_config(config))
    migrate.upgrade(db.engine)
    return db


def cmd_settings(args: argparse.Namespace) -> int:
    if args.markdown:
        print("| Setting | Default | Meaning |")
        print("| --- | --- | --- |")
        for setting in SETTINGS:
            default = "(local SQLite file `pipewatch.db`)" if setting.name == "DATABASE_URL" \
                else f"`{_show(setting.default)}`"
            print(f"| `{setting.name}` | {default} | {setting.help} |")
        return 0
    for setting in SETTINGS:
        print(f"{setting.name}={_show(setting.default)}\n    {setting.help}")
    return 0


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def cmd_migrate(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from api.storage import migrate
    from api.storage.db import Database, Waits

    db = Database(config["DATABASE_URL"], Waits.from_config(config))
    try:
        if args.down:
            migrate.downgrade(db.engine, args.revision)
        else:
            migrate.upgrade(db.engine, args.revision)
        print(f"{db.safe_url}: at revision {migrate.current_revision(db.engine) or 'base'}")
    finally:
        db.dispose()
    return 0


def cmd_collect(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from api import collector
    from api.timeutil import parse_iso, utcnow

    now = parse_iso(args.now) if args.now else utcnow()
    db = _open_database(config)
    try:
        with db.session() as session:
            summary = collector.collect(session, now, config)
        print(f"collected: {json.dumps(summary, default=str)}")
    finally:
        db.dispose()
    return 0


def seed_if_empty(config: dict[str, Any], days: int, seed: int, *, required: bool) -> bool:
    """Seed demo history; returns False (and seeds nothing) when the database has data."""
    from api.demo.seed import database_is_empty, seed_demo

    db = _open_database(config)
    try:
        with db.session() as session:
            empty = database_is_empty(session)
        if not empty:
            if required:
                raise ConfigError("the database already has data; seeding would mix demo rows "
                                  "into it (use --if-empty to skip quietly)")
            return False
        summary = seed_demo(db, config, days=days, seed=seed, progress=True)
        print(f"seeded {db.safe_url}: {json.dumps(summary, default=str)}")
        return True
    finally:
        db.dispose()


def cmd_seed(args: argparse.Namespace, config: dict[str, Any]) -> int:
    if not seed_if_empty(config, args.days, args.seed, required=not args.if_empty):
        print("database already has data: nothing seeded")
    return 0


def cmd_backfill_alerts(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from datetime import timedelta

    from api.status.replay import backfill
    from api.timeutil import utcnow

    if args.days < 1:
        raise ValueError("--days must be at least 1")
    db = _open_database(config)
    try:
        now = utcnow()
        with db.session() as session:
            summary = backfill(session, config, now - timedelta(days=args.days), now,
                               progress=True)
        if summary is None:
            print("the database already has alert history: nothing written")
        else:
            print(f"backfilled {db.safe_url}: {json.dumps(summary)}")
    finally:
        db.dispose()
    return 0


def cmd_serve(args: argparse.Namespace, config: dict[str, Any]) -> int:
    config["DEMO_RECEIVER"] = False  # the demo's receiver is the demo's only, never `serve`'s
    return _serve(config)


def _serve(config: dict[str, Any]) -> int:
    from api import serving

    if config["AUTO_MIGRATE"]:
        _open_database(config).dispose()
    return serving.serve(config) or 0


def cmd_watch(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from api.watch import Watch, socket_url

    if args.count is not None and args.count < 1:
        raise ValueError("--count must be at least 1")
    url = socket_url(args.url or f"http://127.0.0.1:{config['PORT']}")
    token = args.token or config["PIPEWATCH_READ_TOKEN"] or None
    return Watch(url, token=token, brief=args.brief, count=args.count).run()


def cmd_receive_webhooks(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from api.notify import echo

    echo.serve(args.listen_host, args.listen_port, config["WEBHOOK_SECRET"],
               out=lambda line: print(line, flush=True))
    return 0


def cmd_demo(args: argparse.Namespace, config: dict[str, Any]) -> int:
    seed_if_empty(config, args.days, args.seed, required=False)
    config["SIMULATE"] = True
    demo_receiver(config)
    return _serve(config)


def demo_receiver(config: dict[str, Any]) -> bool:
    """With no receiver configured, point WEBHOOK_URLS at the demo's built-in receiver on this
    server (DEMO_RECEIVER, api/demo/inbox.py) with a random WEBHOOK_SECRET, so the page's
    Notifications panel shows real, signed deliveries with no outside service. A receiver the
    person configured is left alone (and the built-in one stays off)."""
    import secrets

    from api.http.routes import DEMO_ROUTES
    from api.receivers import receivers_of

    if receivers_of(config):
        config["DEMO_RECEIVER"] = False
        return False
    host = config["HOST"]
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"  # listening everywhere: reach it over loopback
    elif ":" in host:
        host = f"[{host}]"
    config["DEMO_RECEIVER"] = True
    config["WEBHOOK_URLS"] = (f"http://{host}:{config['PORT']}{DEMO_ROUTES[0].path}",)
    config["WEBHOOK_SECRET"] = config["WEBHOOK_SECRET"] or secrets.token_hex(16)
    print(f"notifications: no receiver configured; webhooks go to the demo's built-in "
          f"receiver, {config['WEBHOOK_URLS'][0]}", flush=True)
    return True


COMMANDS: dict[str, Callable[..., int]] = {
    "serve": cmd_serve, "demo": cmd_demo, "migrate": cmd_migrate,
    "collect": cmd_collect, "seed": cmd_seed, "backfill-alerts": cmd_backfill_alerts,
    "watch": cmd_watch, "receive-webhooks": cmd_receive_webhooks,
}


def main(argv: list[str]) -> int:
    """Run one command; returns the exit code for the process."""
    args = build_parser().parse_args(argv)
    if args.command == "settings":
        return cmd_settings(args)
    try:
        config = load_config(_overrides(args))
        logging.basicConfig(level=config["LOG_LEVEL"],
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return COMMANDS[args.command](args, config)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, no secrets; details in the log at DEBUG
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            print("error: the database did not answer (is it running, and is DATABASE_URL "
                  "right?)", file=sys.stderr)
            return 2
        log.debug("command failed", exc_info=True)
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
