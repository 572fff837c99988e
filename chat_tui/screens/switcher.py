"""Ctrl+K: a quick switcher that filters users as you type."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from chat_tui.render import safe_text


def matches(query: str, names: dict[str, str]) -> list[str]:
    """userIDs whose name contains the query (case-insensitively), prefixes first."""
    q = query.strip().casefold()
    hits = [(name.casefold(), uid) for uid, name in names.items() if q in name.casefold()]
    hits.sort(key=lambda h: (not h[0].startswith(q), h[0]))
    return [uid for _, uid in hits]


class SwitcherScreen(ModalScreen[str | None]):
    """Returns the chosen userID, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(self, names: dict[str, str], order: list[str]) -> None:
        super().__init__()
        self.names = {uid: names[uid] for uid in order}

    def compose(self) -> ComposeResult:
        with Vertical(id="switcher-box"):
            yield Input(placeholder="go to…", id="switcher-input")
            yield OptionList(id="switcher-list")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#switcher-input", Input).focus()

    def _fill(self, query: str) -> None:
        found = self.query_one("#switcher-list", OptionList)
        found.clear_options()
        found.add_options(
            [Option(Text(safe_text(self.names[uid])), id=uid) for uid in matches(query, self.names)]
        )
        if found.option_count:
            found.highlighted = 0

    @on(Input.Changed, "#switcher-input")
    def refilter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#switcher-input")
    def choose_highlighted(self) -> None:
        found = self.query_one("#switcher-list", OptionList)
        if found.highlighted is None:
            return
        self.dismiss(found.get_option_at_index(found.highlighted).id)

    @on(OptionList.OptionSelected, "#switcher-list")
    def choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, delta: int) -> None:
        found = self.query_one("#switcher-list", OptionList)
        if found.option_count:
            found.highlighted = ((found.highlighted or 0) + delta) % found.option_count

    def action_cancel(self) -> None:
        self.dismiss(None)
