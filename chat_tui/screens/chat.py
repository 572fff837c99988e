"""The main screen: users on the left, the open conversation and the composer on the right.

It draws from the app's state and redraws what the app's signals say changed
(chat_tui.changes); everything it shows comes from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from chat_tui.changes import Changes, ConversationChange, Shown, Status
from chat_tui.state import ChatState, display_names
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.status_bar import StatusBar
from chat_tui.widgets.user_list import OFFLINE, ONLINE, UserList


class ChatScreen(Screen[None]):
    """Roster, header, conversation, composer and status line, drawn from the state."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "scroll_conversation(-1)", "Older", priority=True, show=False),
        Binding("pagedown", "scroll_conversation(1)", "Newer", priority=True, show=False),
    ]

    class Open(Message):
        """The user picked a conversation (a click in the roster)."""

        def __init__(self, user_id: str) -> None:
            super().__init__()
            self.user_id = user_id

    def __init__(self, state: ChatState, changes: Changes, status: Callable[[], Status]) -> None:
        super().__init__()
        self.state, self.changes, self.current_status = state, changes, status

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield UserList(id="users")
            with Vertical(id="main"):
                yield Static(id="peer-header", markup=False)
                yield ConversationView(id="conversation")
                yield Composer(id="composer")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Composer).focus()
        self.changes.roster.subscribe(self, self.draw_roster)
        self.changes.conversation.subscribe(self, self.draw_conversation)
        self.changes.status.subscribe(self, self.draw_status)
        # whatever happened before this screen was up
        self.draw_status(self.current_status())
        self.draw_roster()
        if self.state.open_id is not None:
            self.draw_conversation(ConversationChange(self.state.open_id, Shown.OPENED))

    # -- drawing ----------------------------------------------------------------------

    def _names(self) -> dict[str, str]:
        return display_names(self.state.contacts.values(), self.state.self_id)

    def draw_status(self, status: Status) -> None:
        self.query_one(StatusBar).set_status(status.link.value, status.detail)

    def draw_roster(self, _: None = None) -> None:
        self.query_one(UserList).show(self.state, self._names())
        self._draw_header()

    def _draw_header(self) -> None:
        header = self.query_one("#peer-header", Static)
        contact = self.state.contacts.get(self.state.open_id or "")
        if contact is None:
            header.update(Text("No conversation open"))
            return
        name = self._names()[contact.user_id]
        status = f"{ONLINE} online" if contact.connected else f"{OFFLINE} offline"
        header.update(Text(f"{name}   {status}"))

    def draw_conversation(self, change: ConversationChange) -> None:
        if change.user_id != self.state.open_id:
            return
        view = self.query_one(ConversationView)
        if change.how is Shown.OPENED:
            contact = self.state.contacts.get(change.user_id)
            view.show(contact, self.state.self_id, self._names(), change.count)
            self._draw_header()
        elif change.how is Shown.APPENDED:
            view.appended()
        elif change.how is Shown.CHANGED and change.message is not None:
            view.changed(change.message)
        elif change.how is Shown.PREPENDED:
            view.prepended(change.count)

    # -- input ------------------------------------------------------------------------

    @on(UserList.OptionSelected, "#users")
    def user_clicked(self, event: UserList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Open(event.option.id))
        self.query_one(Composer).focus()

    def action_scroll_conversation(self, direction: int) -> None:
        view = self.query_one(ConversationView)
        if direction < 0:
            view.action_page_up_or_load()
        else:
            view.action_page_down()
