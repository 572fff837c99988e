"""The ``chat-tui`` command: arguments and the config file -> a ChatApp."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chat_server import __version__
from chat_tui.config import Config
from chat_tui.config import default_path as default_config_path
from chat_tui.config import load as load_config
from chat_tui.keys import CONFIGURABLE, effective
from chat_tui.prefs import Saved
from chat_tui.session_file import SessionFile, session_path
from chat_tui.urls import normalise_url

DEFAULT_URL = "http://127.0.0.1:3000"
DEFAULT_THEME = "textual-dark"
HIGH_CONTRAST = "chat-high-contrast"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-tui",
        description="Terminal client for chat-server (and the Socket.IO tutorial's server).",
    )
    parser.add_argument(
        "url",
        nargs="?",
        help=f"server URL [CHAT_SERVER_URL; server = in the config] (default: {DEFAULT_URL})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--username", help="log in with this name instead of asking (first login)")
    parser.add_argument(
        "--profile", help="another identity on the same server [profile] (default: default)"
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
        "--print-config",
        action="store_true",
        help="print the settings in effect (config file, then flags) and exit",
    )
    parser.add_argument("--theme", help=f"a Textual theme or {HIGH_CONTRAST} [theme]")
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
    if args.profile:
        flags["profile"] = args.profile
    if args.theme:
        flags["theme"] = args.theme
    return replace(config, **flags), notices


@dataclass(frozen=True, slots=True)
class Start:
    """Everything the app starts with, resolved."""

    url: str  # normalised
    session: Path
    config: Config
    theme: str
    notices: list[str]


def resolve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Start:
    config, notices = settings(args)
    typed = args.url or os.environ.get("CHAT_SERVER_URL") or config.server or DEFAULT_URL
    try:
        url = normalise_url(typed)
    except ValueError as exc:
        parser.error(str(exc))
    profile = config.profile or "default"
    # named from the URL as typed when it has a scheme (as before URLs were normalised:
    # a wss:// user keeps the session file they have)
    path = args.session_file or session_path(typed if "://" in typed else url, profile)
    theme = args.theme or _remembered_theme(SessionFile(path)) or config.theme or DEFAULT_THEME
    return Start(url, path, replace(config, profile=profile), theme, notices)


def _remembered_theme(sf: SessionFile) -> str | None:
    """The theme picked in the app for this profile (prefs file), if any. Only read: a
    broken file is left where it is, for the app to move aside and report."""
    try:
        data = json.loads(sf.prefs_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return Saved.parse(data).theme


def print_config(start: Start) -> None:
    """The settings in effect, as a config file would say them."""
    config = start.config
    lines = [
        "# chat-tui settings in effect (the config file, then the flags)",
        f"server = {json.dumps(start.url)}",
        f"profile = {json.dumps(config.profile)}",
        f"theme = {json.dumps(start.theme)}",
        f"read_receipts = {str(config.read_receipts).lower()}",
        f"typing = {str(config.typing).lower()}",
        f"bell = {str(config.bell).lower()}",
        f"desktop_notifications = {str(config.desktop_notifications).lower()}",
        f"notify_every = {config.notify_every}",
        f"sort = {json.dumps(config.sort)}",
        f"# session file: {start.session}",
        "",
        "[keys]",
        *(f"{a} = {json.dumps(effective(config.keys, a))}" for a in CONFIGURABLE),
    ]
    print("\n".join(lines))
    for notice in start.notices:
        print(f"chat-tui: {notice}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    start = resolve(args, parser)
    if args.print_config:
        print_config(start)
        return 0
    # Textual and Socket.IO load only when the app really starts
    from chat_tui.app import ChatApp
    from chat_tui.client import ChatClient
    from chat_tui.terminal import teach_keys

    teach_keys()  # Alt+Enter as most terminals send it (ESC CR)
    app = ChatApp(
        ChatClient(start.url, cafile=args.cafile),
        SessionFile(start.session),
        username=args.username,
        config=start.config,
        notices=start.notices,
        theme=start.theme,
    )
    app.run()
    return 0
