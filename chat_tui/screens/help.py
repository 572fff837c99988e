"""The F1 help screen: every key."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from chat_tui.layout import DELIVERY_GLYPHS

KEYS: list[tuple[str, str]] = [
    ("Enter", "send the message"),
    ("Alt+Enter / Ctrl+J", "new line in the message"),
    ("Up (empty composer)", "edit your last message (Escape cancels the edit)"),
    ("Alt+R", "recall your last message into the composer, to send it again"),
    ("Ctrl+Up", "select messages: Up / Down move, Escape back to the composer"),
    ("  e / d", "edit / delete (asks first) the selected message, if it is yours"),
    ("  r / g", "reply to it / go to the message it answers"),
    ("  y / o", "copy its text (OSC 52) / open its first link"),
    ("Ctrl+F", "search your messages (Ctrl+F again: everywhere / this conversation)"),
    ("Ctrl+N / Ctrl+P", "next / previous conversation"),
    ("Alt+A", "next conversation with unread messages"),
    ("Ctrl+K", "quick switcher: type a name, Enter opens it"),
    ("Ctrl+B", "hide / show the roster"),
    ("PageUp / PageDown", "scroll; PageUp at the top loads older messages"),
    ("End / Alt+End", "jump to the latest message (End: when the composer is empty)"),
    ("Alt+U", "jump to the first unread message of this conversation"),
    ("Alt+M", "mute / unmute this conversation (no toast, bell or desktop notice)"),
    ("Ctrl+R", "reconnect now; retry the failed messages of this conversation"),
    ("F1", "this help"),
    ("Ctrl+Q", "quit"),
    ("Mouse", "click a user to open; wheel scrolls the conversation"),
]


# the state of your own messages, in the column after their time
LEGEND: list[tuple[str, str]] = [
    (DELIVERY_GLYPHS["pending"], "pending: not yet taken by the server (kept across restarts)"),
    (DELIVERY_GLYPHS["sent"], "sent: stored by the server"),
    (DELIVERY_GLYPHS["seen"], 'seen: the peer has read it ("seen 14:05" under the last one)'),
    (DELIVERY_GLYPHS["failed"], "not sent: refused by the server (Ctrl+R retries)"),
]


class HelpScreen(ModalScreen[None]):
    """Lists the keys; Escape or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(show_header=False, box=None, padding=(0, 2))
        for key, what in KEYS:
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
