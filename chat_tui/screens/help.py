"""The F1 help screen: every key."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chat_tui.keys import CONFIGURABLE, effective, shown
from chat_tui.layout import DELIVERY_GLYPHS

# (keys, what they do); "@id": the keys of a configurable action (chat_tui.keys), as
# the config file's [keys] table has them
KEYS: list[tuple[str, str]] = [
    ("Enter", "send the message"),
    ("Alt+Enter / Ctrl+J", "new line in the message"),
    ("Up (empty composer)", "edit your last message (Escape cancels the edit)"),
    ("Alt+R", "recall your last message into the composer, to send it again"),
    ("@messages", ""),
    ("  e / d", "edit / delete (asks first) the selected message, if it is yours"),
    ("", "on one not sent (✗): back into the composer to fix / discard it"),
    ("  r / g", "reply to it / go to the message it answers"),
    ("  y / o", "copy its text (OSC 52) / open its first link"),
    ("@search", ""),
    ("@next", ""),
    ("@prev", ""),
    ("@unread", ""),
    ("@switcher", ""),
    ("@roster", ""),
    ("@sort", ""),
    ("@hide", ""),
    ("@mute", ""),
    ("PageUp / PageDown", "scroll; PageUp at the top loads older messages"),
    ("End", "jump to the latest message (when the composer is empty)"),
    ("@latest", ""),
    ("@first-unread", ""),
    ("@retry", ""),
    ("@palette", ""),
    ("@theme", ""),
    ("@help", ""),
    ("@quit", ""),
    ("Mouse", "click a user to open, or a message to select it; the wheel scrolls"),
]


def rows(keymap: dict[str, str]) -> list[tuple[str, str]]:
    """The help's rows with the keys in effect."""
    out = []
    for key, what in KEYS:
        if key.startswith("@"):
            binding_id = key[1:]
            key, what = shown(effective(keymap, binding_id)), CONFIGURABLE[binding_id].what
        out.append((key, what))
    return out


# the state of your own messages, in the column after their time
LEGEND: list[tuple[str, str]] = [
    (DELIVERY_GLYPHS["pending"], "pending: not yet taken by the server (kept across restarts)"),
    (DELIVERY_GLYPHS["sent"], "sent: stored by the server"),
    (DELIVERY_GLYPHS["seen"], 'seen: the peer has read it ("seen 14:05" under the last one)'),
    (DELIVERY_GLYPHS["failed"], "not sent: refused by the server (Ctrl+R retries)"),
]


class HelpScreen(ModalScreen[None]):
    """Lists the keys; Escape, q or the help key again (the app's binding) closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 2))
        for key, what in rows(self.keymap):
            table.add_row(key, what)
        legend = Table(show_header=False, box=None, padding=(0, 2))
        for glyph, what in LEGEND:
            legend.add_row(glyph, what)
        with VerticalScroll(id="help-box"):
            yield Static("Keys", id="help-title", markup=False)
            yield Static(table)
            yield Static("Your messages", id="help-legend-title", markup=False)
            yield Static(legend)
            yield Static("Escape closes", id="help-hint", markup=False)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
