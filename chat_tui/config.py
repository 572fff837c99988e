"""chat-tui's settings: a TOML config file, overridden by command-line flags.

The file is ``config.toml`` in the user's config folder (``--config`` names another);
every key is optional::

    read_receipts = true          # false: reads are sent private (no "seen" for others)
    typing = true                 # false: never tell anyone you are typing
    bell = true                   # ring the terminal bell for a new message
    desktop_notifications = false # OSC 777 / OSC 9 notifications through the terminal
    notify_every = 5.0            # seconds between two announcements of one conversation
    sort = "recent"               # the roster: "recent" activity first, or "name"

A key this version does not know, or a value of the wrong type, is reported and ignored:
the client starts with the defaults instead of refusing to start.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from chat_tui.prefs import SORTS


def default_path() -> Path:
    return Path(platformdirs.user_config_dir("chat-tui", appauthor=False)) / "config.toml"


@dataclass(frozen=True, slots=True)
class Config:
    """What the user chose; the defaults are what a new user gets."""

    read_receipts: bool = True
    typing: bool = True
    bell: bool = True
    desktop_notifications: bool = False
    notify_every: float = 5.0
    sort: str = "recent"


def _valid(name: str, value: Any) -> Any:
    """The value for a key, or raise ValueError saying what is wrong."""
    if name == "notify_every":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError("a number of seconds, 0 or more")
        return float(value)
    if name == "sort":
        if value not in SORTS:
            raise ValueError(" or ".join(f'"{s}"' for s in SORTS))
        return value
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def load(path: Path) -> tuple[Config, list[str]]:
    """The settings in ``path`` (defaults when it does not exist), and a notice for each
    thing in it that was ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(), []
    except OSError as exc:
        return Config(), [f"{path}: {exc.strerror or exc}; using the defaults"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Config(), [f"{path}: {exc}; using the defaults"]
    known = {f.name for f in fields(Config)}
    values: dict[str, Any] = {}
    notices = []
    for key, value in data.items():
        if key not in known:
            notices.append(f"{path}: unknown setting {key!r} ignored")
            continue
        try:
            values[key] = _valid(key, value)
        except ValueError as exc:
            notices.append(f"{path}: {key} must be {exc}; ignored")
    return replace(Config(), **values), notices
