"""The roster and conversations as plain data, and the pure functions that change them.

No Textual, no Socket.IO: every rule of what the user sees (order, merging, unread counts,
pending/sent/failed, paging) lives here and is unit-tested on its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


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


@dataclass(slots=True)
class Contact:
    """A user in the roster and your conversation with them."""

    user_id: str
    username: str
    connected: bool = False
    messages: list[ChatMessage] = field(default_factory=list)
    has_more: bool = False  # older messages exist on the server
    unread: int = 0


def message_from_wire(data: Mapping[str, Any]) -> ChatMessage | None:
    """A server message payload, or None when it is not one (missing or odd fields)."""
    content, from_id, to_id = data.get("content"), data.get("from"), data.get("to")
    if not (isinstance(content, str) and isinstance(from_id, str) and isinstance(to_id, str)):
        return None
    msg_id, ts, client_id = data.get("id"), data.get("ts"), data.get("clientId")
    return ChatMessage(
        content=content,
        from_id=from_id,
        to_id=to_id,
        id=msg_id if isinstance(msg_id, int) and not isinstance(msg_id, bool) else None,
        ts=ts if isinstance(ts, int) and not isinstance(ts, bool) else None,
        client_id=client_id if isinstance(client_id, str) else None,
    )


def sort_key(contact: Contact, self_id: str | None) -> tuple[int, str, str]:
    """Yourself first, then by username case-insensitively, ties by userID."""
    return (0 if contact.user_id == self_id else 1, contact.username.casefold(), contact.user_id)


def merge_messages(local: list[ChatMessage], snapshot: list[ChatMessage]) -> list[ChatMessage]:
    """Merge a server snapshot of a conversation into what is shown.

    Never drops anything the user has seen: messages with ids are united by id (older
    pages already loaded stay), your own messages still pending or failed stay at the end
    unless the snapshot holds them (matched by clientId). Without ids (a server that
    speaks only the tutorial's protocol) the snapshot is the truth for what the server has,
    followed by your messages it does not have yet.
    """
    in_snapshot = {m.client_id for m in snapshot if m.client_id}
    unsent = [
        m
        for m in local
        if m.delivery is not Delivery.SENT and not (m.client_id and m.client_id in in_snapshot)
    ]
    if all(m.id is not None for m in snapshot):
        by_id = {m.id: m for m in local if m.id is not None and m.delivery is Delivery.SENT}
        by_id.update((m.id, m) for m in snapshot if m.id is not None)
        merged = sorted(by_id.values(), key=lambda m: m.id or 0)
    else:
        merged = list(snapshot)
    return merged + unsent


def display_names(contacts: Iterable[Contact], self_id: str | None) -> dict[str, str]:
    """What each row shows: the username, with a short userID suffix when two users
    share a name, and " (yourself)" for you."""
    contacts = list(contacts)
    counts: dict[str, int] = {}
    for c in contacts:
        counts[c.username.casefold()] = counts.get(c.username.casefold(), 0) + 1
    out = {}
    for c in contacts:
        name = c.username
        if counts[c.username.casefold()] > 1:
            name = f"{name} #{c.user_id[:4]}"
        if c.user_id == self_id:
            name = f"{name} (yourself)"
        out[c.user_id] = name
    return out


def backoff_delay(
    attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (1, 2, ...): exponential with
    full jitter in the upper half, so a restarted server is not hit by everyone at once."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    jitter = float((rng or random).random())
    return float(round(ceiling / 2 + jitter * ceiling / 2, 3))


@dataclass
class ChatState:
    """Everything the chat screen shows, as data."""

    self_id: str | None = None
    contacts: dict[str, Contact] = field(default_factory=dict)
    open_id: str | None = None  # the conversation on screen

    # -- roster -----------------------------------------------------------------------

    def ordered(self) -> list[Contact]:
        return sorted(self.contacts.values(), key=lambda c: sort_key(c, self.self_id))

    def apply_users(self, users: object) -> None:
        """Merge a ``users`` snapshot: update in place, add new users, keep unread counts
        and anything of yours the snapshot lacks."""
        if not isinstance(users, list):
            return
        for entry in users:
            if not isinstance(entry, dict):
                continue
            user_id, username = entry.get("userID"), entry.get("username")
            if not isinstance(user_id, str) or not isinstance(username, str):
                continue
            raw = entry.get("messages")
            snapshot = [
                m
                for m in (message_from_wire(x) for x in (raw if isinstance(raw, list) else []))
                if m is not None
            ]
            contact = self.contacts.get(user_id)
            if contact is None:
                contact = self.contacts[user_id] = Contact(user_id, username)
            contact.username = username
            contact.connected = bool(entry.get("connected"))
            contact.messages = merge_messages(contact.messages, snapshot)
            if not contact.messages or (snapshot and snapshot[0] is contact.messages[0]):
                contact.has_more = bool(entry.get("hasMore"))

    def apply_user_connected(self, entry: object) -> str | None:
        """``user connected``: mark online, or add the user. Returns the userID."""
        if not isinstance(entry, dict):
            return None
        user_id, username = entry.get("userID"), entry.get("username")
        if not isinstance(user_id, str) or not isinstance(username, str):
            return None
        contact = self.contacts.get(user_id)
        if contact is None:
            self.contacts[user_id] = Contact(user_id, username, connected=True)
        else:
            contact.connected = True
        return user_id

    def apply_user_disconnected(self, user_id: object) -> None:
        if isinstance(user_id, str) and user_id in self.contacts:
            self.contacts[user_id].connected = False

    def set_self_connected(self, connected: bool) -> None:
        """Your own row follows your own connection."""
        if self.self_id in self.contacts:
            self.contacts[self.self_id].connected = connected

    # -- messages ---------------------------------------------------------------------

    def conversation_of(self, msg: ChatMessage) -> str:
        """The contact a message belongs under: the peer, or yourself for self-messages."""
        return msg.to_id if msg.from_id == self.self_id else msg.from_id

    def receive(self, data: object) -> tuple[Contact, ChatMessage] | None:
        """A live ``private message``. Returns where it went, or None when it is dropped
        (malformed, unknown sender, or already shown)."""
        if not isinstance(data, dict):
            return None
        msg = message_from_wire(data)
        if msg is None:
            return None
        contact = self.contacts.get(self.conversation_of(msg))
        if contact is None:
            return None
        if msg.id is not None and any(m.id == msg.id for m in reversed(contact.messages[-50:])):
            return None
        pending = self._find_own(contact, msg.client_id) if msg.from_id == self.self_id else None
        if pending is not None:  # our own message, echoed from another of our connections
            self._settle(pending, msg)
            return contact, pending
        insert_at = len(contact.messages)
        while insert_at and contact.messages[insert_at - 1].delivery is not Delivery.SENT:
            insert_at -= 1  # keep unsent messages of yours at the end
        contact.messages.insert(insert_at, msg)
        # your own echo from another tab does not make a conversation unread
        if contact.user_id != self.open_id and msg.from_id != self.self_id:
            contact.unread += 1
        return contact, msg

    def add_own(
        self, to_id: str, content: str, client_id: str, ts: int | None = None
    ) -> ChatMessage:
        """A message you just wrote, shown at once as pending."""
        assert self.self_id is not None
        msg = ChatMessage(
            content, self.self_id, to_id, ts=ts, client_id=client_id, delivery=Delivery.PENDING
        )
        if to_id in self.contacts:
            self.contacts[to_id].messages.append(msg)
        return msg

    def _find_own(self, contact: Contact, client_id: str | None) -> ChatMessage | None:
        if client_id is None:
            return None
        for m in reversed(contact.messages):
            if m.client_id == client_id and m.from_id == self.self_id:
                return m
        return None

    def _settle(self, own: ChatMessage, stored: ChatMessage | None) -> None:
        own.delivery, own.error = Delivery.SENT, None
        if stored is not None:
            own.id, own.ts = stored.id, stored.ts or own.ts

    def acknowledge(self, to_id: str, client_id: str, ack: object) -> ChatMessage | None:
        """Apply the server's answer to one of your sends: sent (with id and ts) or
        failed (with the reason). An ack of None means a server without acks: sent."""
        contact = self.contacts.get(to_id)
        own = self._find_own(contact, client_id) if contact else None
        if own is None:
            return None
        if isinstance(ack, dict) and isinstance(ack.get("error"), str):
            own.delivery, own.error = Delivery.FAILED, ack["error"]
            return own
        stored = None
        if isinstance(ack, dict) and isinstance(ack.get("message"), dict):
            stored = message_from_wire(ack["message"])
        self._settle(own, stored)
        if contact is not None and own.id is not None:
            # an echo or a snapshot may have shown the stored copy already
            contact.messages = [m for m in contact.messages if m is own or m.id != own.id]
        return own

    def retry(self, to_id: str, client_id: str) -> ChatMessage | None:
        """Put a failed message back to pending (same clientId: still exactly once)."""
        contact = self.contacts.get(to_id)
        own = self._find_own(contact, client_id) if contact else None
        if own is None or own.delivery is not Delivery.FAILED:
            return None
        own.delivery, own.error = Delivery.PENDING, None
        return own

    def prepend_history(self, peer_id: str, messages: object, has_more: object) -> int:
        """Older messages from a ``history`` ack; returns how many were added."""
        contact = self.contacts.get(peer_id)
        if contact is None or not isinstance(messages, list):
            return 0
        known = {m.id for m in contact.messages if m.id is not None}
        older = [
            m
            for m in (message_from_wire(x) for x in messages if isinstance(x, dict))
            if m is not None and m.id not in known
        ]
        contact.messages[:0] = older
        contact.has_more = bool(has_more) and bool(older)
        return len(older)

    def open(self, user_id: str) -> int:
        """Show a conversation; returns how many messages were unread (then zero)."""
        self.open_id = user_id
        contact = self.contacts.get(user_id)
        if contact is None:
            return 0
        unread, contact.unread = contact.unread, 0
        return unread

    def next_unread(self) -> str | None:
        """The next conversation with unread messages after the open one, in roster order."""
        order = [c.user_id for c in self.ordered()]
        if not order:
            return None
        start = order.index(self.open_id) + 1 if self.open_id in order else 0
        for user_id in order[start:] + order[:start]:
            if self.contacts[user_id].unread:
                return user_id
        return None

    def step(self, delta: int) -> str | None:
        """The conversation ``delta`` rows away from the open one (wrapping)."""
        order = [c.user_id for c in self.ordered()]
        if not order:
            return None
        if self.open_id not in order:
            return order[0]
        return order[(order.index(self.open_id) + delta) % len(order)]
