"""The ``chat-server`` command: argparse -> Config -> a running server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import ssl
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from chat_server import __version__, logs
from chat_server.config import Config, config_fields, env_name, redact_url
from chat_server.levers import levers_off

log = logging.getLogger("chat_server")


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _from_env(env: Mapping[str, str], var: str, convert: Any) -> Any:
    try:
        return convert(env[var])
    except ValueError:
        raise ValueError(f"{var}={env[var]!r} is not a valid value") from None


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """One flag per Config field; each default comes from its environment variable."""
    parser = argparse.ArgumentParser(
        prog="chat-server",
        description="Private-messaging chat server (Socket.IO). Every option can also be "
        "set with the environment variable shown in brackets. "
        "'chat-server sessions list|revoke USER' and 'chat-server users list|delete USER' "
        "administer a store.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    # set by the --workers master on the processes it starts: bind with SO_REUSEPORT
    parser.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    defaults = Config()
    for f in config_fields():
        flag = "--" + f.name.replace("_", "-")
        var = env_name(f.name)
        default = getattr(defaults, f.name)
        help_text = f"{f.metadata['help']} [{var}]"
        if f.type in (bool, "bool"):
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=_from_env(env, var, _parse_bool) if var in env else default,
                help=help_text,
            )
            continue
        kind: Any = {"int": int, "float": float}.get(f.type, str)  # annotations are strings
        parser.add_argument(
            flag,
            type=kind,
            default=_from_env(env, var, kind) if var in env else default,
            metavar=f.metadata.get("metavar", f.name.upper()),
            choices=f.metadata.get("choices"),
            help=help_text + " (default: %(default)s)",
        )
    return parser


def parse_args(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> tuple[Config, argparse.Namespace]:
    """Config from command-line arguments over environment variables over defaults."""
    env = os.environ if env is None else env
    try:
        parser = build_parser(env)
    except ValueError as exc:
        raise SystemExit(f"chat-server: {exc}") from None
    args = parser.parse_args(argv)
    values: dict[str, Any] = {f.name: getattr(args, f.name) for f in config_fields()}
    try:
        return Config(**values), args
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    return parse_args(argv, env)[0]


async def serve(config: Config, *, reuse_port: bool = False) -> None:
    """Run until SIGINT or SIGTERM, then close connections and the store."""
    from aiohttp import web  # the web and Socket.IO stacks load only to serve

    from chat_server.app import create_app, start_runner

    app = create_app(config)
    runner = await start_runner(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(
            runner,
            config.host,
            config.port,
            reuse_port=reuse_port or None,
            ssl_context=config.ssl_context(),
        )
        await site.start()
        port = runner.addresses[0][1]
        who = f"worker {os.getpid()}" if reuse_port else f"chat-server {__version__}"
        print(f"{who} listening on {config.scheme}://{config.host}:{port}", flush=True)
        print(f"store: {redact_url(config.store)}", flush=True)
        await stop.wait()
        print("shutting down", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def _uvloop_run() -> Any:
    """uvloop's run() where uvloop is installed, else asyncio.run."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.run
    return uvloop.run


def tune_gc() -> None:
    """Fewer, later garbage collections: a connect storm allocates many long-lived
    objects (sockets, queues, rosters), and the default thresholds made the collector
    walk them again and again (docs/performance.md)."""
    gc.collect()
    gc.freeze()  # what exists at start-up is never collected: stop scanning it
    gc.set_threshold(50_000, 50, 100)


def tune_switching() -> None:
    """Hand the GIL over sooner. SQLite's threads (reads, checkpoints) release it for
    every step of SQLite and then wait to get it back; with Python's default 5 ms switch
    interval a busy event loop kept them waiting up to 5 ms each time, and a connecting
    client waited on its read (docs/performance.md). Nothing changes while only one
    thread wants the GIL."""
    sys.setswitchinterval(0.0002)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chat-server`` and ``python -m chat_server``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["sessions"], ["users"]):
        from chat_server.admin import main as admin_main

        return admin_main(argv[0], argv[1:])
    if argv[:1] in (["backup"], ["export"]):
        from chat_server.ops import main as ops_main

        return ops_main(argv[0], argv[1:])
    config, args = parse_args(argv)
    logs.setup(config.log_level, config.log_format)
    if config.workers > 1:
        from chat_server.workers import run_workers

        return run_workers(config, argv)
    off = levers_off()
    if "gc" not in off:
        tune_gc()
    if "switch" not in off:
        tune_switching()
    try:
        run = asyncio.run if "uvloop" in off else _uvloop_run()
        run(serve(config, reuse_port=args.reuse_port))
    except (OSError, ssl.SSLError) as exc:
        print(f"chat-server: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:
        print(f"chat-server: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


__all__ = ["main", "parse_config", "serve"]
