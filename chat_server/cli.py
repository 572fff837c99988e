"""The ``chat-server`` command: argparse -> Config -> a running server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from chat_server import __version__
from chat_server.app import create_app
from chat_server.config import Config, config_fields, env_name

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
        "set with the environment variable shown in brackets.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
        kind = int if f.type in (int, "int") else str
        parser.add_argument(
            flag,
            type=kind,
            default=_from_env(env, var, kind) if var in env else default,
            metavar=f.metadata.get("metavar", f.name.upper()),
            choices=f.metadata.get("choices"),
            help=help_text + " (default: %(default)s)",
        )
    return parser


def parse_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Config from command-line arguments over environment variables over defaults."""
    env = os.environ if env is None else env
    try:
        parser = build_parser(env)
    except ValueError as exc:
        raise SystemExit(f"chat-server: {exc}") from None
    args = parser.parse_args(argv)
    values: dict[str, Any] = {f.name: getattr(args, f.name) for f in config_fields()}
    try:
        return Config(**values)
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable: parser.error exits


def redact_url(url: str) -> str:
    """A store URL fit for printing: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


async def serve(config: Config, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT or SIGTERM, then close connections and the store."""
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, config.host, config.port).start()
        port = runner.addresses[0][1]
        print(f"chat-server {__version__} listening on http://{config.host}:{port}", flush=True)
        print(f"store: {redact_url(config.store)}", flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
        print("shutting down", flush=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``chat-server`` and ``python -m chat_server``."""
    config = parse_config(argv)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiohttp's access log lines carry nothing secret but are noise at info level
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        print(f"chat-server: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:
        print(f"chat-server: {exc}", file=sys.stderr)
        return 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


__all__ = ["main", "parse_config", "serve"]
