"""What every part of the app shares: the connection, the state, the files, the signals
screens draw from, and the connection's status. ChatApp (app.py) is built from this base
and its parts: inbound.py applies what the server says, outgoing.py sends what the user
writes."""

from __future__ import annotations

from textual.app import App

from chat_tui.cache import Cache
from chat_tui.changes import Changes, ConversationChange, LinkState, Shown, Status
from chat_tui.client import Link
from chat_tui.outbox import Outbox
from chat_tui.records import ChatMessage
from chat_tui.session_file import Session, SessionFile
from chat_tui.state import ChatState


class AppBase(App[None]):
    """The app's shared parts; never run on its own."""

    client: Link
    server_url: str
    session_file: SessionFile
    outbox: Outbox
    cache: Cache
    state: ChatState
    changes: Changes
    status: Status
    session: Session | None
    server_acks: bool  # the server speaks chat-server's extensions

    @property
    def exiting(self) -> bool:
        """True from the moment the app starts to quit: nothing is drawn any more."""
        raise NotImplementedError

    def open_conversation(self, user_id: str) -> None:
        raise NotImplementedError

    def kick_outbox(self) -> None:
        raise NotImplementedError

    def save_hidden(self) -> None:
        raise NotImplementedError

    def save_cache(self) -> None:
        raise NotImplementedError

    def compose_submitted(self, to: str, text: str) -> bool:
        """Whether the composer's text was an edit (and is handled as one)."""
        raise NotImplementedError

    def take_reply(self, to: str) -> int | None:
        """The message the text being sent answers (then no longer), if any."""
        raise NotImplementedError

    def _conversation_changed(
        self, user_id: str, how: Shown, msg: ChatMessage | None = None, count: int = 0
    ) -> None:
        self.changes.conversation.publish(ConversationChange(user_id, how, msg, count))

    def _set_status(self, link: LinkState, detail: str) -> None:
        self.status = Status(link, detail)
        self.changes.status.publish(self.status)
