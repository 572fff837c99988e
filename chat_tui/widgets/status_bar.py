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
        self.update(Text(f"{label}{'  ' + detail if detail else ''}"))
