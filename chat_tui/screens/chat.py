"""The main screen: users on the left, the open conversation and the composer on the right."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from chat_tui.widgets.composer import Composer
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.status_bar import StatusBar
from chat_tui.widgets.user_list import UserList


class ChatScreen(Screen[None]):
    """Layout only: the app fills the widgets from its state."""

    class Ready(Message):
        """The screen is mounted; the app may draw into it."""

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
        self.post_message(self.Ready())
