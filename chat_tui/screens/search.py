"""Ctrl+F: search your messages on the server, across every conversation or only in the
open one (Ctrl+F again switches), and open one at the message found.

Results show who the conversation is with, when, and the message with the words that
matched highlighted. Message text is never markup: it goes into ``Text`` as plain
strings (render.safe_text), and the highlight is a style on spans of it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from chat_server.text import search_words
from chat_tui.records import ChatMessage
from chat_tui.render import day_label, safe_text, time_of_day

# (query, with, before) -> (messages, hasMore), or an error string
Search = Callable[[str, str | None, int | None], Awaitable[tuple[list[ChatMessage], bool] | str]]
SEARCH_DELAY_S: Final = 0.3  # wait for a pause in typing before asking the server
MORE: Final = "more"
_WORD: Final = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Hit:
    """What the user chose: open the conversation with ``peer_id`` at ``message_id``."""

    peer_id: str
    message_id: int


def highlighted(content: str, query: list[str], width: int = 200) -> Text:
    """One line of a message with the words of ``query`` highlighted (compared as search
    compares them: text.search_words)."""
    text = safe_text(content).replace("\n", " ")[:width]
    out = Text(text, no_wrap=True, overflow="ellipsis")
    wanted = set(query)
    for found in _WORD.finditer(text):
        if set(search_words(found.group(0))) & wanted:
            out.stylize("bold reverse", found.start(), found.end())
    return out


class SearchScreen(ModalScreen[Hit | None]):
    """Type words; Enter on a result opens it. Ctrl+F switches between every conversation
    and the open one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Close"),
        Binding("ctrl+f", "scope", "All / this conversation", priority=True),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    def __init__(
        self,
        search: Search,
        names: dict[str, str],
        self_id: str | None,
        open_id: str | None,
        open_name: str = "",
        colours: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.colours = colours or {}  # userID -> its colour (chat_tui.colours)
        self.search, self.names, self.self_id = search, names, self_id
        self.open_id, self.open_name = open_id, open_name
        self.only_open = False
        self.results: list[ChatMessage] = []
        self.has_more = False
        self.found_with = ""  # what the results were found with (the next page asks the same)

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(id="search-scope", markup=False)
            yield Input(placeholder="search words…", id="search-input")
            yield OptionList(id="search-list")
            yield Static(id="search-status", markup=False)

    def on_mount(self) -> None:
        self._draw_scope()
        self.query_one("#search-input", Input).focus()

    def _draw_scope(self) -> None:
        where = f"with {self.open_name}" if self.only_open else "in every conversation"
        label = f"Search {where} · Ctrl+F: {'everywhere' if self.only_open else 'only here'}"
        self.query_one("#search-scope", Static).update(Text(label))

    def _status(self, text: str) -> None:
        self.query_one("#search-status", Static).update(Text(text))

    def action_scope(self) -> None:
        if self.open_id is None:
            return
        self.only_open = not self.only_open
        self._draw_scope()
        self.ask(self.query_one("#search-input", Input).value, delay=0)

    @on(Input.Changed, "#search-input")
    def typed(self, event: Input.Changed) -> None:
        self.ask(event.value)

    @work(exclusive=True, group="search")
    async def ask(
        self, query: str, before: int | None = None, delay: float = SEARCH_DELAY_S
    ) -> None:
        if not search_words(query):
            self.results, self.has_more = [], False
            self._fill([])
            self._status("")
            return
        await asyncio.sleep(delay)  # a newer keystroke cancels this one
        if not self._open():
            return
        self._status("searching…")
        found = await self.search(query, self.open_id if self.only_open else None, before)
        if not self._open():
            return
        if isinstance(found, str):
            self._status(f"The server says: {found}")
            return
        messages, self.has_more = found
        more = before is not None
        self.results = [*self.results, *messages] if more else messages
        self.found_with = query
        self._fill(search_words(query), keep_highlight=more)
        count = len(self.results)
        hint = " (more: choose the last line)" if self.has_more else ""
        self._status(f"{count} found{hint}" if count else "Nothing found.")

    def _open(self) -> bool:
        """False once the screen is closing (chosen, or closed while the server was asked):
        there is nothing left to show an answer in."""
        return self.is_attached and bool(self.query("#search-list"))

    def _peer(self, msg: ChatMessage) -> str:
        return msg.to_id if msg.from_id == self.self_id else msg.from_id

    def _fill(self, query: list[str], keep_highlight: bool = False) -> None:
        found = self.query_one("#search-list", OptionList)
        highlighted_at = found.highlighted if keep_highlight else 0
        found.clear_options()
        options = []
        for index, msg in enumerate(self.results):
            peer = self._peer(msg)
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(
                self.names.get(peer, safe_text(peer))[:20],
                Style(bold=True, color=self.colours.get(peer)),
            )
            when = f"{day_label(msg.ts)} {time_of_day(msg.ts)}" if msg.ts else ""
            label.append(f"  {when}  ", "dim")
            if msg.from_id == self.self_id:
                label.append("you: ", "dim")
            label.append_text(highlighted(msg.content, query))
            options.append(Option(label, id=str(index)))
        if self.has_more:
            options.append(Option(Text("… more results", "dim"), id=MORE))
        found.add_options(options)
        if found.option_count:
            found.highlighted = min(highlighted_at or 0, found.option_count - 1)

    def _choose(self, option_id: str | None) -> None:
        if option_id is None:
            return
        if option_id == MORE:
            last = self.results[-1].id if self.results else None
            self.ask(self.found_with, before=last, delay=0)
            return
        msg = self.results[int(option_id)]
        if msg.id is not None:
            self.dismiss(Hit(self._peer(msg), msg.id))

    @on(Input.Submitted, "#search-input")
    def choose_highlighted(self) -> None:
        found = self.query_one("#search-list", OptionList)
        if found.highlighted is not None:
            self._choose(found.get_option_at_index(found.highlighted).id)

    @on(OptionList.OptionSelected, "#search-list")
    def choose(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def action_move(self, delta: int) -> None:
        found = self.query_one("#search-list", OptionList)
        if found.option_count:
            found.highlighted = ((found.highlighted or 0) + delta) % found.option_count

    def action_cancel(self) -> None:
        self.dismiss(None)
