"""The Textual messages the connection posts to the app: one typed message per server event
and per change of the link. Payloads are parsed (chat_tui.wire) before they are posted, so
a handler never sees raw wire data."""

from __future__ import annotations

from textual.message import Message

from chat_tui.records import ChatMessage, RosterEntry


class ServerMessage(Message):
    """Base of everything the connection posts; the app handles them in one place."""


# -- the link --------------------------------------------------------------------------


class Connecting(ServerMessage):
    """A connection attempt starts."""

    def __init__(self, attempt: int) -> None:
        super().__init__()
        self.attempt = attempt


class Connected(ServerMessage):
    """The handshake succeeded; ``session`` and ``users`` came before this."""


class Disconnected(ServerMessage):
    """An established connection dropped (a Retrying follows)."""


class Retrying(ServerMessage):
    """Connecting failed or the link dropped; the next attempt is in ``delay`` s."""

    def __init__(self, attempt: int, delay: float, reason: str) -> None:
        super().__init__()
        self.attempt, self.delay, self.reason = attempt, delay, reason


class Stopped(ServerMessage):
    """The client stopped trying (retrying could not help); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class Refused(ServerMessage):
    """The server refused the handshake (``invalid username``): log in again."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__()
        self.message, self.reason = message, reason


# -- server events ---------------------------------------------------------------------


class SessionStarted(ServerMessage):
    """``session``: the credentials to keep, and who they make you."""

    def __init__(self, session_id: str, user_id: str, max_length: int | None = None) -> None:
        super().__init__()
        self.session_id, self.user_id = session_id, user_id
        self.max_length = max_length  # the longest message the server takes, if it says


class RosterReceived(ServerMessage):
    """``users``: everyone, with the latest messages of each conversation. ``extended``
    when the server speaks chat-server's extensions (ids, acks, paging)."""

    def __init__(self, entries: list[RosterEntry], extended: bool) -> None:
        super().__init__()
        self.entries, self.extended = entries, extended


class UserOnline(ServerMessage):
    """``user connected``: a user came online (or is new)."""

    def __init__(self, entry: RosterEntry) -> None:
        super().__init__()
        self.entry = entry


class UserOffline(ServerMessage):
    """``user disconnected``: a user's last connection closed."""

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self.user_id = user_id


class UserDeleted(ServerMessage):
    """``user deleted``: the server erased a user (an admin, or pruning)."""

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self.user_id = user_id


class MessageReceived(ServerMessage):
    """``private message``: a message to you, or yours from another of your connections."""

    def __init__(self, message: ChatMessage) -> None:
        super().__init__()
        self.message = message


class ReadReceived(ServerMessage):
    """``read``: ``by`` read ``with_id``'s messages up to ``up_to`` (you in another tab,
    or the peer: a receipt)."""

    def __init__(self, by: str, with_id: str, up_to: int, at_ms: int | None) -> None:
        super().__init__()
        self.by, self.with_id, self.up_to, self.at_ms = by, with_id, up_to, at_ms


class MessageEdited(ServerMessage):
    """A message was edited (by its sender, maybe in another of your tabs)."""

    def __init__(self, message: ChatMessage) -> None:
        super().__init__()
        self.message = message


class MessageDeleted(ServerMessage):
    """A message was deleted by its sender."""

    def __init__(self, message_id: int, from_id: str, to_id: str) -> None:
        super().__init__()
        self.message_id, self.from_id, self.to_id = message_id, from_id, to_id


class TypingReceived(ServerMessage):
    """``typing``: a user started (or stopped) writing to you."""

    def __init__(self, user_id: str, typing: bool) -> None:
        super().__init__()
        self.user_id, self.typing = user_id, typing
