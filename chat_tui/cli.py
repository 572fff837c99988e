"""The ``chat-tui`` command: arguments -> a ChatApp."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from chat_tui.session_file import SessionFile, session_path

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
    parser.add_argument("--username", help="log in with this name instead of asking (first login)")
    parser.add_argument(
        "--profile",
        default="default",
        help="another identity on the same server (default: default)",
    )
    parser.add_argument(
        "--session-file", type=Path, help="keep the session here instead of the data folder"
    )
    parser.add_argument("--no-bell", action="store_true", help="do not ring the terminal bell")
    parser.add_argument(
        "--cafile",
        help="trust only this CA certificate (PEM) for an https:// server, e.g. a private CA",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Textual and Socket.IO load only when the app really starts
    from chat_tui.app import ChatApp
    from chat_tui.client import ChatClient

    path = args.session_file or session_path(args.url, args.profile)
    app = ChatApp(
        ChatClient(args.url, cafile=args.cafile),
        SessionFile(path),
        username=args.username,
        bell=not args.no_bell,
    )
    app.run()
    return 0
