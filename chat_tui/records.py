"""The records chat-tui keeps: messages, contacts, roster entries, acks, as plain data
(chat_tui.state changes them; chat_tui.wire makes them from server payloads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Delivery(Enum):
    """Where one of your own messages is."""

    PENDING = "pending"  # in the outbox, not acknowledged yet
    SENT = "sent"  # stored by the server (acked, or sent to a server without acks)
    FAILED = "failed"  # refused by the server; can be retried


@dataclass(slots=True)
class ChatMessage:
    """One message as the client shows it."""

    content: str
    from_id: str
    to_id: str
    id: int | None = None  # the server's id (None: a server without ids, or pending)
    ts: int | None = None  # server time in ms (None: unknown)
    client_id: str | None = None
    delivery: Delivery = Delivery.SENT
    error: str | None = None  # why the server refused it (FAILED)
    edited_at: int | None = None  # when its sender last edited it (ms)
    deleted: bool = False  # a tombstone: its sender deleted it
    reply_to: int | None = None  # the id of the message it answers


@dataclass(slots=True)
class Contact:
    """A user in the roster and your conversation with them."""

    user_id: str
    username: str
    connected: bool = False
    messages: list[ChatMessage] = field(default_factory=list)
    has_more: bool = False  # older messages exist on the server
    has_newer: bool = False  # a window away from the end is shown (a search hit, a reply)
    unread: int = 0
    read_up_to: int | None = None  # my read marker: their messages up to this id are read
    peer_read_up_to: int | None = None  # their marker on my messages (a receipt)
    peer_read_at: int | None = None  # when they moved it (ms since the epoch)
    last_seen: int | None = None  # end of their last connection (ms); None while online
    typing_until: float | None = None  # monotonic deadline of their "typing"
    muted: bool = False  # no toast, bell or desktop notification for this conversation
    active: int = 0  # when its latest message was written (ms): the roster's "recent" order


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One user as the server lists them (``users`` item, ``user connected``). The read
    state and last seen come only from chat-server (``unread`` None: a server that keeps
    no read markers, such as the tutorial's)."""

    user_id: str
    username: str
    connected: bool
    messages: list[ChatMessage] = field(default_factory=list)
    has_more: bool = False  # older messages exist on the server
    unread: int | None = None
    read_up_to: int | None = None
    peer_read_up_to: int | None = None
    peer_read_at: int | None = None
    last_seen: int | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The server's answer to one of your sends: the stored message, or why it was
    refused; ``retry_after_ms`` when the refusal is only for now. All None: a server
    without acks (the tutorial's), which takes every message."""

    message: ChatMessage | None = None
    error: str | None = None
    retry_after_ms: int | None = None


def later(a: int | None, b: int | None) -> int | None:
    """The later of two markers (None: no marker)."""
    return b if a is None else a if b is None else max(a, b)


def is_seen(msg: ChatMessage, contact: Contact) -> bool:
    """Whether the peer's marker has passed one of your messages."""
    marker = contact.peer_read_up_to
    return marker is not None and msg.id is not None and msg.id <= marker
