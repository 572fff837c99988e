"""chat-tui's settings: a TOML config file, overridden by command-line flags.

The file is ``config.toml`` in the user's config folder (``--config`` names another);
every key is optional; ``chat-tui --print-config`` shows the settings in effect::

    server = "https://chat.example.org"  # the server's URL (a URL given as an argument wins)
    profile = "default"           # which identity on that server (--profile wins)
    theme = "textual-dark"        # a Textual theme, or "chat-high-contrast"; one picked
                                  # in the app (F3) is remembered and wins; --theme wins
    read_receipts = true          # false: reads are sent private (no "seen" for others)
    typing = true                 # false: never tell anyone you are typing
    bell = true                   # ring the terminal bell for a new message
    desktop_notifications = false # OSC 777 / OSC 9 notifications through the terminal
    notify_every = 5.0            # seconds between two announcements of one conversation
    sort = "recent"               # the roster: "recent" activity first, or "name"

    [keys]                        # the keys of the main actions (F1 lists them all)
    next = "ctrl+n"               # one key, or several: "ctrl+n,f6"
    search = "ctrl+f"

A key this version does not know, or a value of the wrong type, is reported and ignored:
the client starts with the defaults instead of refusing to start.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from chat_tui.keys import CONFIGURABLE, check_keys, effective
from chat_tui.prefs import SORTS
from chat_tui.urls import normalise_url


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
    server: str | None = None
    profile: str | None = None
    theme: str | None = None
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> keys (chat_tui.keys)


def _valid(name: str, value: Any) -> Any:
    """The value for a key, or raise ValueError saying what is wrong."""
    if name == "server":
        if not isinstance(value, str):
            raise ValueError('a URL such as "http://127.0.0.1:3000"')
        normalise_url(value)  # its ValueError says what is wrong with it
        return value.strip()  # as typed: the session file is named from it (cli.resolve)
    if name in ("profile", "theme"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a name")
        return value.strip()
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


def _keys(path: Path, table: Any, notices: list[str]) -> dict[str, str]:
    """The [keys] table: binding id -> keys; what is wrong in it is reported and left
    out (that action keeps its default key)."""
    if not isinstance(table, dict):
        notices.append(f"{path}: keys must be a table ([keys]); ignored")
        return {}
    out: dict[str, str] = {}
    for action, value in table.items():
        if action not in CONFIGURABLE:
            notices.append(f"{path}: unknown action {action!r} in [keys] ignored")
            continue
        try:
            if not isinstance(value, str):
                raise ValueError("a string")
            out[action] = check_keys(value)
        except ValueError as exc:
            notices.append(f"{path}: keys.{action} must be {exc}; ignored")
    # a key may do one thing: an entry that gives an action a key another action has (by
    # default or by this table) is left out, until none is (swapping two keys is fine)
    while clash := clashes(out):
        key, actions = clash
        given = [a for a in actions if a in out and key not in CONFIGURABLE[a].key.split(",")]
        for action in given or [a for a in actions if a in out]:
            notices.append(
                f"{path}: {key} would be the key of {' and '.join(actions)}; keys.{action} ignored"
            )
            out.pop(action)
    return out


def clashes(keymap: dict[str, str]) -> tuple[str, list[str]] | None:
    """A key that more than one action would have with ``keymap``, and those actions."""
    owners: dict[str, list[str]] = {}
    for action in CONFIGURABLE:
        for key in effective(keymap, action).split(","):
            owners.setdefault(key, []).append(action)
    for key, actions in owners.items():
        if len(actions) > 1 and any(a in keymap for a in actions):
            return key, actions
    return None


def load(path: Path) -> tuple[Config, list[str]]:
    """The settings in ``path`` (defaults when it does not exist), and a notice for each
    thing in it that was ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(), []
    except OSError as exc:
        return Config(), [f"{path}: {exc.strerror or exc}; using the defaults"]
    except UnicodeDecodeError:
        return Config(), [f"{path}: not UTF-8 text; using the defaults"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Config(), [f"{path}: {exc}; using the defaults"]
    except RecursionError:
        return Config(), [f"{path}: nested too deeply; using the defaults"]
    known = {f.name for f in fields(Config)} - {"keys"}
    values: dict[str, Any] = {}
    notices: list[str] = []
    for key, value in data.items():
        if key == "keys":
            values["keys"] = _keys(path, value, notices)
            continue
        if key not in known:
            notices.append(f"{path}: unknown setting {key!r} ignored")
            continue
        try:
            values[key] = _valid(key, value)
        except ValueError as exc:
            notices.append(f"{path}: {key} must be {exc}; ignored")
    return replace(Config(), **values), notices
