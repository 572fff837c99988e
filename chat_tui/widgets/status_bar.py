"""One line that says how the connection is: connected, reconnecting, offline."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    """The connection status, set by the app."""

    def set_status(self, state: str, detail: str = "") -> None:
        self.set_classes(f"-{state}")
        label = {
            "connected": "● connected",
            "reconnecting": "◌ reconnecting",
            "offline": "○ offline",
            "connecting": "◌ connecting",
            "stopped": "✗ stopped",
        }.get(state, state)
        # one line at any width: a long reason ends in … rather than being cut off
        text = f"{label}{'  ' + detail if detail else ''}"
        self.update(Text(text, no_wrap=True, overflow="ellipsis"))
