"""The keys of the main actions, which the config file's ``[keys]`` table can change
(issue 15, item 13). Each is a Textual binding with an id; the table becomes the app's
keymap (Textual's public ``App.set_keymap``), and F1 shows the keys in effect."""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Action:
    key: str  # the default, as Textual names keys ("ctrl+n"; several: "f1,ctrl+h")
    action: str  # the Textual action
    label: str  # in the footer
    what: str  # in F1's help
    show: bool = False  # in the footer


# binding id -> action; the ids are the names used in the config file's [keys] table
ACTIONS: dict[str, Action] = {
    # (the footer shows Go to, Search, Help, Quit and the palette: they fit 60 columns;
    # F1 and the palette list the rest)
    "next": Action("ctrl+n", "step(1)", "Next", "next conversation"),
    "prev": Action("ctrl+p", "step(-1)", "Prev", "previous conversation"),
    "unread": Action("alt+a", "next_unread", "Unread", "next conversation with unread messages"),
    "switcher": Action(
        "ctrl+k", "switcher", "Go to", "quick switcher: type a name, Enter opens it", show=True
    ),
    "search": Action(
        "ctrl+f", "search", "Search", "search your messages (again: everywhere / here)", show=True
    ),
    "help": Action("f1", "help", "Help", "this help (F1 again closes it)", show=True),
    "quit": Action("ctrl+q", "quit", "Quit", "quit", show=True),
    "mute": Action(
        "alt+m",
        "toggle_mute",
        "Mute",
        "mute / unmute this conversation (no toast, bell or desktop notice)",
    ),
    "hide": Action("alt+h", "hide", "Hide", "hide this conversation until it gets a new message"),
    "sort": Action("alt+s", "toggle_sort", "Sort", "roster by most recent activity / by name"),
    "retry": Action("ctrl+r", "retry", "Retry", "reconnect now; retry the failed messages here"),
    "palette": Action(
        "f2", "command_palette", "Commands", "command palette (every action, themes)"
    ),
    "theme": Action("f3", "change_theme", "Theme", "pick a theme (remembered)"),
}
# keys of the chat screen (bound there: they act on the conversation and the roster)
SCREEN_ACTIONS: dict[str, Action] = {
    "roster": Action("ctrl+b", "toggle_roster", "Roster", "hide / show the roster"),
    "messages": Action(
        "ctrl+up", "cursor", "Messages", "select messages: Up / Down move, Escape back"
    ),
    "first-unread": Action(
        "alt+u", "first_unread", "First unread", "jump to the first unread message here"
    ),
    "latest": Action("alt+end", "latest", "Latest", "jump to the latest message"),
}
CONFIGURABLE = {**ACTIONS, **SCREEN_ACTIONS}

# a key a terminal sends as Textual names it: ctrl and/or alt (or shift with alt or an
# F-key) with a letter, a digit, an F-key or a named key; or an F-key alone
KEY = re.compile(r"^(?:(?:ctrl|alt|shift)\+){0,3}(?:[a-z0-9]|f[1-9]|f1[0-9]|f2[0-4]|[a-z_]+)$")
NAMED = {
    *("up", "down", "left", "right", "home", "end", "pageup", "pagedown"),
    *("insert", "delete", "enter", "tab", "backspace", "space", "escape"),
}
# the composer's and the app's own keys, which the [keys] table cannot take: new line
# (Alt+Enter, Ctrl+J), recall (Alt+R), and what terminals send for Enter, Tab,
# Backspace and Escape (Ctrl+M, Ctrl+I, Ctrl+H, Ctrl+[)
FIXED = {"alt+enter", "ctrl+j", "alt+r", "ctrl+m", "ctrl+i", "ctrl+h", "ctrl+c"}


def bindings(actions: dict[str, Action]) -> list[Binding]:
    return [
        Binding(a.key, a.action, a.label, show=a.show, priority=True, id=binding_id)
        for binding_id, a in actions.items()
    ]


def check_keys(value: str) -> str:
    """A key list from the config file ("ctrl+n" or "ctrl+n,f5"), normalised; raises
    ValueError saying what is wrong."""
    keys = [k.strip().lower() for k in value.split(",")]
    if not value.strip():
        raise ValueError('key names as Textual writes them, such as "ctrl+n" or "f5,alt+x"')
    for key in keys:
        why = _unusable(key)
        if why:
            raise ValueError(f"keys a terminal can send ({key!r}: {why})")
    return ",".join(keys)


def _unusable(key: str) -> str | None:
    """Why ``key`` cannot be bound to an action, or None when it can."""
    if not KEY.match(key):
        return 'not a key name; such as "ctrl+n", "alt+x", "f5"'
    *mods, base = key.split("+")
    function = re.fullmatch(r"f\d+", base) is not None
    if len(base) > 1 and not function and base not in NAMED:
        return "no such key"
    if key in FIXED:
        return "chat-tui's own key"
    if not function and "ctrl" not in mods and "alt" not in mods:
        return "without Ctrl or Alt it is typed, or it moves the cursor"
    if "ctrl" in mods and "shift" in mods and len(base) == 1:
        return "terminals send Ctrl+Shift+letter as Ctrl+letter"
    if mods == ["ctrl"] and base.isdigit():
        return "terminals do not send Ctrl+digit"
    return None


def effective(keymap: dict[str, str], binding_id: str) -> str:
    """The keys of an action: the config file's, else the default."""
    return keymap.get(binding_id) or CONFIGURABLE[binding_id].key


def shown(keys: str) -> str:
    """Keys as people write them: "ctrl+n,f5" -> "Ctrl+N / F5"."""
    out = []
    for key in keys.split(","):
        parts = key.split("+")
        out.append("+".join([p.capitalize() for p in parts[:-1]] + [_last(parts[-1])]))
    return " / ".join(out)


def _last(name: str) -> str:
    return name.upper() if len(name) == 1 or re.fullmatch(r"f\d+", name) else name.capitalize()
