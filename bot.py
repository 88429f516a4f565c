"""GroupGuard entry point and command line.

    python bot.py [run] [--config PATH]          run the bot (QQ via OneBot v11, WeChat optional)
    python bot.py check-config [--config PATH]   validate the config and exit
    python bot.py scan [FILE] [--output FILE] [--db URL] [--format jsonl|qq-export] [--summary]
                                                  offline: events in, JSONL decisions out
    python bot.py export --since YYYY-MM-DD [--group G] --format csv|xlsx --output FILE
                                                  cases and actions for an officer's records
    python bot.py console-link PERSON [--config PATH]
                                                  a one-time sign-in link to the web console

Without --config the bot reads ./config.toml, else config.example.toml (the
defaults). A bad config prints every bad key and exits with status 2 before
anything connects.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rules.config import Config, ConfigError, load_config
from rules.core.paths import PROJECT_ROOT
from rules.logflood import RepeatLimiter

if TYPE_CHECKING:
    from rules.logmask import SecretMasker

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot.py", description="GroupGuard (群卫士)")
    sub = parser.add_subparsers(dest="command")
    for name, help_text in (
        ("run", "run the bot (default)"),
        ("check-config", "validate the config file and exit"),
        ("scan", "scan JSONL chat events offline and print decisions as JSONL"),
        ("export", "export cases and actions (evidence masked) as CSV or XLSX"),
        ("console-link", "print a one-time sign-in link to the officer console"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", type=Path, help="config file (default: config.toml)")
        if name == "scan":
            cmd.add_argument("input", nargs="?", default="-", help="JSONL file, or - for stdin")
            cmd.add_argument("--output", "-o", default="-", help="output file, or - for stdout")
            cmd.add_argument("--db", help="database URL to keep state in (default: in memory)")
            cmd.add_argument(
                "--format",
                choices=("jsonl", "qq-export"),
                default="jsonl",
                help="input format: JSONL events, or a QQ desktop text export",
            )
            cmd.add_argument(
                "--summary", action="store_true", help="print a summary table to stderr"
            )
        if name == "export":
            cmd.add_argument("--since", required=True, type=_date, help="YYYY-MM-DD (inclusive)")
            cmd.add_argument("--group", help='one group only, e.g. "qq:123456"')
            cmd.add_argument("--format", choices=("csv", "xlsx"), default="csv")
            cmd.add_argument("--output", "-o", required=True, type=Path, help="file to write")
            cmd.add_argument("--tz", default="Asia/Shanghai", help="time zone for times shown")
        if name == "console-link":
            cmd.add_argument("person", help='who signs in, e.g. "qq:10001"')
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    return parser


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r} (use YYYY-MM-DD)") from None


def _load(path: Path | None) -> tuple[Config, Path]:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def check_config(path: Path | None) -> int:
    config, used = _load(path)
    groups = f", {len(config.groups)} group override(s)" if config.groups else ""
    print(f"config OK: {used}{groups}")
    return 0


def scan(args: argparse.Namespace) -> int:
    from rules.offline.scan import run_scan

    config, _ = _load(args.config)
    # Bytes that are not UTF-8 become lone surrogates: the scan reports those lines.
    if args.input == "-":
        sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
        source = sys.stdin
    else:
        source = open(args.input, encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    try:
        summary = sys.stderr if args.summary or args.format == "qq-export" else None
        errors = asyncio.run(run_scan(config, source, sink, args.db, args.format, summary))
    finally:
        for stream in (source, sink):
            if stream not in (sys.stdin, sys.stdout):
                stream.close()
    if errors:
        print(f"scan: {errors} malformed line(s) reported in the output", file=sys.stderr)
    return 0


def _route_stdlib_logging() -> None:
    """Send stdlib logging through nonebot's logger: one log stream shows all, each line once.

    Lines are named after the module that logged them (as nonebot's own
    ``LoguruHandler`` does). Loggers that already carry a ``LoguruHandler``
    (uvicorn's, as nonebot configures them) also propagate to the root; their
    records are skipped here, or every uvicorn line would be printed twice.
    """
    import inspect

    from nonebot.log import LoguruHandler, logger

    def bridged_already(record: logging.LogRecord) -> bool:
        node: logging.Logger | None = logging.getLogger(record.name)
        while node is not None and node is not logging.root:
            if any(isinstance(h, LoguruHandler) for h in node.handlers):
                return True
            node = node.parent if node.propagate else None
        return False

    class _ToLoguru(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if bridged_already(record):
                return
            try:
                level: str | int = logger.level(record.levelname).name
            except ValueError:
                level = record.levelno
            frame, depth = inspect.currentframe(), 0
            while frame and (depth == 0 or frame.f_code.co_filename == logging.__file__):
                frame, depth = frame.f_back, depth + 1
            logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())

    handler = _ToLoguru()
    # A raid's hundreds of identical warnings a second: a few, then a count.
    limiter = RepeatLimiter()
    handler.addFilter(limiter)
    atexit.register(limiter.flush)
    logging.basicConfig(handlers=[handler], level=logging.INFO, force=True)


def _log_at_configured_level() -> None:
    """Give nonebot's log handler the configured level (``LOG_LEVEL``, default INFO).

    nonebot's default handler accepts every level and filters afterwards, so
    every debug call on the message path (several per event) still builds a
    full record. At level WARNING the per-message INFO/SUCCESS lines go too,
    which is what a busy deployment wants (they also copy every message into
    the log).
    """
    import nonebot
    from nonebot.log import default_format, logger, logger_id

    logger.remove(logger_id)
    level = nonebot.get_driver().config.log_level
    logger.add(sys.stdout, level=level, diagnose=False, format=default_format)


def export(args: argparse.Namespace) -> int:
    from rules.officers.export import write_rows
    from rules.storage import Storage
    from rules.storage.database import resolve_url

    config, _ = _load(args.config)

    async def _export() -> int:
        storage = await Storage.open(resolve_url(config.database.url, PROJECT_ROOT))
        try:
            rows = await storage.exports.case_rows(args.since, args.group, args.tz)
        finally:
            await storage.close()
        write_rows(rows, args.output, args.format)
        return len(rows)

    count = asyncio.run(_export())
    print(f"exported {count} case(s) to {args.output}")
    return 0


def console_link(args: argparse.Namespace) -> int:
    """Print a one-time console sign-in link for an officer; 1 when there is none to give."""
    from plugins.console.startup import operator_link

    config, _ = _load(args.config)
    if not config.console.enabled:
        print("error: the console is off; set [console] enabled = true", file=sys.stderr)
        return 1
    issued = asyncio.run(operator_link(config, config.console, args.person.strip()))
    if issued is None:
        print(f"error: {args.person} oversees no group: no link", file=sys.stderr)
        return 1
    url, expires = issued
    print(url)
    print(f"usable once, until {expires:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    return 0


def run(path: Path | None) -> int:
    config, used = _load(path)  # validate fully before anything connects
    from rules.logmask import config_secrets, install

    masker = install(config_secrets(config)).masker  # before nonebot binds its sink to stdout
    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter as OneBotAdapter

    _route_stdlib_logging()
    nonebot.init(
        driver="~fastapi+~websockets+~httpx",
        host=config.server.host,
        port=config.server.port,
        onebot_access_token=config.onebot.access_token or None,
        groupguard_config=str(used),
    )
    _mask_loguru(masker)
    _log_at_configured_level()
    nonebot.get_driver().register_adapter(OneBotAdapter)
    _reverse_websocket_only()
    nonebot.load_plugins(str(Path(__file__).resolve().parent / "plugins"))
    # No per-message compression on the OneBot WebSocket: events are small and the
    # implementation usually runs on the same host or LAN; deflating every frame cost
    # about 2% of the bot's CPU under load (make bench-qq).
    nonebot.run(ws_per_message_deflate=False)
    return 0


def _reverse_websocket_only() -> None:
    """Serve OneBot over the reverse WebSocket only: drop the adapter's HTTP POST endpoints.

    The adapter accepts events posted there without checking the access token,
    as any connected account (forged commands, forged roles), and an account
    id posted there first keeps that account's WebSocket out ("duplicate").
    """
    import nonebot
    from fastapi.routing import APIRoute

    app = nonebot.get_app()
    app.router.routes = [
        r
        for r in app.router.routes
        if not (isinstance(r, APIRoute) and r.path.startswith("/onebot/"))
    ]


def _mask_loguru(masker: SecretMasker) -> None:
    """Mask the configured secrets in loguru records too, for every sink.

    ``rules.logmask.install`` already masks every stdlib record and wraps
    stdout/stderr (the bot's log); this adds the loguru patcher, chained after
    the one ``nonebot.init`` sets (it names lines after plugins).
    """
    if not masker:
        return
    import nonebot
    from nonebot.log import logger

    nonebot_patcher = getattr(nonebot, "_log_patcher", None)

    def patcher(record: Any) -> None:
        if nonebot_patcher is not None:
            nonebot_patcher(record)
        masker.loguru_patcher(record)

    logger.configure(patcher=patcher)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.config)
    if args.command == "scan":
        return scan(args)
    if args.command == "export":
        return export(args)
    if args.command == "console-link":
        return console_link(args)
    return run(args.config)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    sys.exit(main())
