"""The ``chat-tui`` command: arguments -> a ChatApp."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from chat_server import __version__
from chat_tui.config import Config
from chat_tui.config import default_path as default_config_path
from chat_tui.config import load as load_config
from chat_tui.session_file import SessionFile, session_path
from chat_tui.urls import normalise_url

DEFAULT_URL = "http://127.0.0.1:3000"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-tui",
        description="Terminal client for chat-server (and the Socket.IO tutorial's server).",
    )
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get("CHAT_SERVER_URL", DEFAULT_URL),
        help=f"server URL [CHAT_SERVER_URL] (default: {DEFAULT_URL})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--username", help="log in with this name instead of asking (first login)")
    parser.add_argument(
        "--profile",
        default="default",
        help="another identity on the same server (default: default)",
    )
    parser.add_argument(
        "--session-file", type=Path, help="keep the session here instead of the data folder"
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="settings file (default: config.toml in the user's config folder)",
    )
    parser.add_argument(
        "--no-bell", action="store_true", help="do not ring the terminal bell [bell = false]"
    )
    parser.add_argument(
        "--no-read-receipts",
        action="store_true",
        help="read privately: peers see no 'seen' for you [read_receipts = false]",
    )
    parser.add_argument(
        "--no-typing",
        action="store_true",
        help="never tell anyone you are typing [typing = false]",
    )
    parser.add_argument(
        "--desktop-notifications",
        action="store_true",
        help="notify through the terminal (OSC 777 / OSC 9) [desktop_notifications = true]",
    )
    parser.add_argument(
        "--cafile",
        help="trust only this CA certificate (PEM) for an https:// server, e.g. a private CA",
    )
    return parser


def settings(args: argparse.Namespace) -> tuple[Config, list[str]]:
    """The config file's settings with the flags on top, and notices about the file."""
    config, notices = load_config(args.config or default_config_path())
    if args.config is not None and not args.config.exists():
        notices.append(f"{args.config}: no such file; using the defaults")
    flags: dict[str, Any] = {}
    if args.no_bell:
        flags["bell"] = False
    if args.no_read_receipts:
        flags["read_receipts"] = False
    if args.no_typing:
        flags["typing"] = False
    if args.desktop_notifications:
        flags["desktop_notifications"] = True
    return replace(config, **flags), notices


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        url = normalise_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))
    config, notices = settings(args)
    # Textual and Socket.IO load only when the app really starts
    from chat_tui.app import ChatApp
    from chat_tui.client import ChatClient
    from chat_tui.terminal import teach_keys

    teach_keys()  # Alt+Enter as most terminals send it (ESC CR)

    # named from the URL as typed when it has a scheme (as before URLs were normalised:
    # a wss:// user keeps the session file they have)
    path = args.session_file or session_path(args.url if "://" in args.url else url, args.profile)
    app = ChatApp(
        ChatClient(url, cafile=args.cafile),
        SessionFile(path),
        username=args.username,
        config=config,
        notices=notices,
    )
    app.run()
    return 0
