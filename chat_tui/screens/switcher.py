"""Ctrl+K: a quick switcher that filters users as you type, and asks the server's
directory for people who are not in your list."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from chat_tui.records import RosterEntry
from chat_tui.render import safe_text

Search = Callable[[str], Awaitable[list[RosterEntry]]]
SEARCH_DELAY_S = 0.25  # wait for a pause in typing before asking the server


def matches(query: str, names: dict[str, str]) -> list[str]:
    """userIDs whose name contains the query (case-insensitively), prefixes first."""
    q = query.strip().casefold()
    hits = [(name.casefold(), uid) for uid, name in names.items() if q in name.casefold()]
    hits.sort(key=lambda h: (not h[0].startswith(q), h[0]))
    return [uid for _, uid in hits]


class SwitcherScreen(ModalScreen[RosterEntry | str | None]):
    """Returns the chosen userID, a RosterEntry for someone found in the directory (not
    in the roster yet), or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(
        self,
        names: dict[str, str],
        order: list[str],
        search: Search | None = None,
        badges: dict[str, tuple[str, int]] | None = None,
        colours: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.colours = colours or {}  # userID -> its colour (chat_tui.colours)
        self.names = {uid: names[uid] for uid in order}
        self.badges = badges or {}  # userID -> (status icon, unread count), as the roster
        self.search = search
        self.found: dict[str, RosterEntry] = {}  # from the directory, not in the roster

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
        options = [Option(self._label(uid), id=uid) for uid in matches(query, self.names)]
        for uid, entry in self.found.items():
            if uid not in self.names:
                label = Text(safe_text(entry.username).replace("\n", " "))
                label.append("  (from the directory)", "dim")
                options.append(Option(label, id=uid))
        found.add_options(options)
        if found.option_count:
            found.highlighted = 0

    def _label(self, user_id: str) -> Text:
        """A row as the roster shows it: status icon, name, unread count."""
        icon, unread = self.badges.get(user_id, ("", 0))
        label = Text(f"{icon} " if icon else "", no_wrap=True, overflow="ellipsis")
        label.append(self.names[user_id], self.colours.get(user_id, ""))
        if unread:
            label.append(f" [{unread}]", "bold")
        return label

    @on(Input.Changed, "#switcher-input")
    def refilter(self, event: Input.Changed) -> None:
        self.found = {}
        self._fill(event.value)
        if self.search is not None and event.value.strip():
            self.ask_directory(event.value.strip())

    @work(exclusive=True, group="directory")
    async def ask_directory(self, prefix: str) -> None:
        await asyncio.sleep(SEARCH_DELAY_S)  # a newer keystroke cancels this one
        assert self.search is not None
        entries = await self.search(prefix)
        if not (self.is_attached and self.query("#switcher-list")):
            return  # chosen or closed meanwhile: nothing left to show it in
        self.found = {e.user_id: e for e in entries if e.user_id not in self.names}
        self._fill(self.query_one("#switcher-input", Input).value)

    def _result(self, user_id: str | None) -> RosterEntry | str | None:
        if user_id is not None and user_id in self.found:
            return self.found[user_id]
        return user_id

    @on(Input.Submitted, "#switcher-input")
    def choose_highlighted(self) -> None:
        found = self.query_one("#switcher-list", OptionList)
        if found.highlighted is None:
            return
        self.dismiss(self._result(found.get_option_at_index(found.highlighted).id))

    @on(OptionList.OptionSelected, "#switcher-list")
    def choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._result(event.option.id))

    def action_move(self, delta: int) -> None:
        found = self.query_one("#switcher-list", OptionList)
        if found.option_count:
            found.highlighted = ((found.highlighted or 0) + delta) % found.option_count

    def action_cancel(self) -> None:
        self.dismiss(None)
