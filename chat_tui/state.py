"""The roster and conversations as plain data, and the pure functions that change them.

No Textual, no Socket.IO: every rule of what the user sees (order, merging, unread counts,
pending/sent/failed, paging) lives here and is unit-tested on its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from chat_server.protocol import username_key
from chat_tui.colours import colour, colour_indexes
from chat_tui.records import (
    Ack,
    ChatMessage,
    Contact,
    Delivery,
    RosterEntry,
    later,
)
from chat_tui.render import clock_ms, safe_text

TYPING_EXPIRES_S = 6.0  # a "typing" not repeated within this long is over


def first_unread(
    messages: list[ChatMessage], peer_id: str, read_mark: int | None, unread: int = 0
) -> int | None:
    """The index of the first unread message of a conversation (where the "new messages"
    line goes), or None. With the server's marker (``read_mark``) it is the first message
    of the peer above it; without one, the last ``unread`` messages are the new ones."""
    if read_mark is not None:
        for index, msg in enumerate(messages):
            if msg.from_id == peer_id and msg.id is not None and msg.id > read_mark:
                return index
        return None
    return len(messages) - unread if 0 < unread <= len(messages) else None


def sort_key(contact: Contact, self_id: str | None, by: str = "name") -> tuple[int, int, str, str]:
    """Yourself first, then (``by`` "recent") the latest activity first, then by username
    case-insensitively, ties by userID."""
    return (
        0 if contact.user_id == self_id else 1,
        -contact.active if by == "recent" else 0,
        contact.username.casefold(),
        contact.user_id,
    )


def latest_id(contact: Contact) -> int:
    """The id of the latest stored message of a conversation (-1: none)."""
    return max((m.id for m in contact.messages[-20:] if m.id is not None), default=-1)


def merge_messages(local: list[ChatMessage], snapshot: list[ChatMessage]) -> list[ChatMessage]:
    """Merge a server snapshot of a conversation into what is shown.

    Messages with ids are united by id, the snapshot's copy winning (it has the edits
    and deletes); loaded pages older than the snapshot are dropped (they may have
    changed meanwhile; scrolling fetches them again). Your own messages still pending or
    failed stay at the end
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
        # loaded pages older than the snapshot may have changed meanwhile (edits, deletes
        # missed while offline): they go, and are fetched again when scrolled to
        first = snapshot[0].id or 0 if snapshot else 0
        by_id = {
            m.id: m
            for m in local
            if m.id is not None and m.delivery is Delivery.SENT and m.id >= first
        }
        by_id.update((m.id, m) for m in snapshot if m.id is not None)
        merged = sorted(by_id.values(), key=lambda m: m.id or 0)
    else:
        merged = list(snapshot)
    return merged + unsent


def display_names(contacts: Iterable[Contact], self_id: str | None) -> dict[str, str]:
    """What each row shows, safe to draw (render.safe_text): the username, with a short
    userID suffix when two users' names look the same (protocol.username_key: case,
    width and look-alike letters do not tell them apart), and " (yourself)" for you."""
    contacts = list(contacts)
    keys = {c.user_id: username_key(c.username) for c in contacts}
    counts: dict[str, int] = {}
    for key in keys.values():
        counts[key] = counts.get(key, 0) + 1
    out = {}
    for c in contacts:
        name = safe_text(c.username).replace("\n", " ")
        if counts[keys[c.user_id]] > 1:
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
    server_marks: bool = False  # the server keeps read markers (chat-server)
    drafts: dict[str, str] = field(default_factory=dict)  # unsent text, per conversation
    drafts_changed: set[str] = field(default_factory=set)  # not yet saved by this window
    max_length: int | None = None  # the longest message the server takes (if it says)
    sort_by: str = "recent"  # the roster's order: "recent" activity first, or "name"
    # hidden conversations: userID -> latest message id when hidden (prefs.Saved.hidden)
    hidden: dict[str, int] = field(default_factory=dict)
    hidden_changed: set[str] = field(default_factory=set)  # not yet saved
    # (the roster's names and ids, display_names, colour indexes): derived, kept until a
    # name changes (the roster is drawn for every message)
    _labels: tuple[object, dict[str, str], dict[str, int]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def linked(self) -> bool:
        """Whether you are connected, so that what the roster says of others is current:
        your own row, which a server snapshot sets and a lost link clears."""
        me = self.contacts.get(self.self_id or "")
        return me is not None and me.connected

    def _labelled(self) -> tuple[object, dict[str, str], dict[str, int]]:
        key = (self.self_id, *((c.user_id, c.username) for c in self.contacts.values()))
        if self._labels is None or self._labels[0] != key:
            contacts = list(self.contacts.values())
            self._labels = (key, display_names(contacts, self.self_id), colour_indexes(contacts))
        return self._labels

    def names(self) -> dict[str, str]:
        """What each user is called on screen (display_names); do not change it."""
        return self._labelled()[1]

    def colour_indexes(self) -> dict[str, int]:
        """Each user's colour (chat_tui.colours.colour_indexes); do not change it."""
        return self._labelled()[2]

    def colours(self, dark: bool) -> dict[str, str]:
        """Each user's colour on a dark or a light background."""
        return {uid: colour(i, dark) for uid, i in self.colour_indexes().items()}

    def reset(self) -> None:
        """Forget everything (the server no longer knows this session)."""
        self.self_id, self.open_id, self.server_marks = None, None, False
        self.contacts.clear()

    # -- roster -----------------------------------------------------------------------

    def ordered(self, everyone: bool = False) -> list[Contact]:
        """The roster's rows in order; hidden conversations only when ``everyone`` (or
        while open)."""
        rows = [
            c
            for c in self.contacts.values()
            if everyone or c.user_id not in self.hidden or c.user_id == self.open_id
        ]
        return sorted(rows, key=lambda c: sort_key(c, self.self_id, self.sort_by))

    def hide(self, user_id: str) -> None:
        """Leave a conversation out of the roster until it gets a new message."""
        contact = self.contacts.get(user_id)
        if contact is not None:
            self.hidden[user_id] = latest_id(contact)
            self.hidden_changed.add(user_id)

    def unhide(self, user_id: str) -> None:
        if self.hidden.pop(user_id, None) is not None:
            self.hidden_changed.add(user_id)

    def _active(self, contact: Contact, msg: ChatMessage) -> None:
        """A message in a conversation: it moves up the roster, and a hidden one shows."""
        contact.active = max(contact.active, msg.ts or clock_ms())
        self.unhide(contact.user_id)

    def apply_users(self, entries: list[RosterEntry]) -> None:
        """Merge a ``users`` snapshot: update in place, add new users, keep anything of
        yours the snapshot lacks. Unread counts and markers come from the server when it
        keeps them (chat-server); otherwise the counts kept here stay."""
        self.server_marks = any(e.unread is not None for e in entries)
        for entry in entries:
            contact = self.contacts.get(entry.user_id)
            if contact is None:
                contact = self.contacts[entry.user_id] = Contact(entry.user_id, entry.username)
            if contact.has_newer:  # a window away from the end: back to the end
                contact.messages = [m for m in contact.messages if m.delivery is not Delivery.SENT]
                contact.has_newer = False
            contact.username = entry.username
            contact.connected = entry.connected
            contact.last_seen = None if entry.connected else entry.last_seen
            snapshot = list(entry.messages)
            contact.messages = merge_messages(contact.messages, snapshot)
            if contact.messages:
                contact.active = max(contact.active, contact.messages[-1].ts or 0)
            mark = self.hidden.get(contact.user_id)
            if mark is not None and latest_id(contact) > mark:  # written to while away
                self.unhide(contact.user_id)
            if not contact.messages or (snapshot and snapshot[0] is contact.messages[0]):
                contact.has_more = entry.has_more
            if entry.unread is not None:
                self._apply_marks(contact, entry)

    def _apply_marks(self, contact: Contact, entry: RosterEntry) -> None:
        local = contact.read_up_to
        contact.unread = 0 if contact.user_id == self.self_id else entry.unread or 0
        if local is not None and (entry.read_up_to is None or local > entry.read_up_to):
            self._recount(contact, local)  # a read not sent yet: count from it
        contact.read_up_to = later(local, entry.read_up_to)
        if later(contact.peer_read_up_to, entry.peer_read_up_to) != contact.peer_read_up_to:
            contact.peer_read_up_to = entry.peer_read_up_to
            contact.peer_read_at = entry.peer_read_at

    def apply_user_connected(self, entry: RosterEntry) -> None:
        """``user connected``: mark online, or add the user."""
        contact = self.contacts.get(entry.user_id)
        if contact is None:
            self.contacts[entry.user_id] = Contact(entry.user_id, entry.username, connected=True)
        else:
            contact.connected, contact.last_seen = True, None

    def apply_user_disconnected(self, user_id: str, now_ms: int) -> None:
        """``user disconnected``: offline, last seen now; no longer typing."""
        if (contact := self.contacts.get(user_id)) is not None:
            contact.connected, contact.last_seen, contact.typing_until = False, now_ms, None

    def add_found(self, entry: RosterEntry) -> Contact:
        """Someone found in the directory: listed from now on; their conversation, if
        any, is fetched page by page (has_more)."""
        contact = self.contacts.get(entry.user_id)
        if contact is None:
            contact = self.contacts[entry.user_id] = Contact(
                entry.user_id, entry.username, entry.connected, has_more=True
            )
        return contact

    def remove(self, user_id: str) -> None:
        """A deleted user leaves the roster, with the conversation (the server erased
        it); if it was open, nothing is."""
        self.contacts.pop(user_id, None)
        if self.open_id == user_id:
            self.open_id = None

    def set_self_connected(self, connected: bool) -> None:
        """Your own row follows your own connection (and so does ``linked``)."""
        if self.self_id in self.contacts:
            self.contacts[self.self_id].connected = connected

    # -- messages ---------------------------------------------------------------------

    def conversation_of(self, msg: ChatMessage) -> str:
        """The contact a message belongs under: the peer, or yourself for self-messages."""
        return msg.to_id if msg.from_id == self.self_id else msg.from_id

    def receive(
        self, msg: ChatMessage, watching: bool = True
    ) -> tuple[Contact, ChatMessage] | None:
        """A live ``private message``. Returns where it went, or None when it is dropped
        (unknown sender, or already shown). ``watching``: the user looks at the app (its
        terminal has focus), so a message in the open conversation is not unread."""
        contact = self.contacts.get(self.conversation_of(msg))
        if contact is None:
            return None
        if msg.from_id == contact.user_id:
            contact.typing_until = None  # their message ends their typing
        if msg.id is not None and any(m.id == msg.id for m in reversed(contact.messages[-50:])):
            return None
        pending = self._find_own(contact, msg.client_id) if msg.from_id == self.self_id else None
        if pending is not None:  # our own message, echoed from another of our connections
            self._settle(pending, msg)
            return contact, pending
        if contact.has_newer:  # the window shown ends before it: it comes with newer pages
            mine = msg.from_id == self.self_id
            if not mine and not (watching and contact.user_id == self.open_id):
                contact.unread += 1
            self._active(contact, msg)
            return contact, msg
        insert_at = len(contact.messages)
        while insert_at and contact.messages[insert_at - 1].delivery is not Delivery.SENT:
            insert_at -= 1  # keep unsent messages of yours at the end
        contact.messages.insert(insert_at, msg)
        self._active(contact, msg)
        # your own echo from another tab does not make a conversation unread
        if msg.from_id != self.self_id and not (watching and contact.user_id == self.open_id):
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
            self._active(self.contacts[to_id], msg)
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

    def acknowledge(self, to_id: str, client_id: str, ack: Ack) -> ChatMessage | None:
        """Apply the server's answer to one of your sends: sent (with id and ts) or
        failed (with the reason)."""
        contact = self.contacts.get(to_id)
        own = self._find_own(contact, client_id) if contact else None
        if own is None:
            return None
        if ack.error is not None:
            own.delivery, own.error = Delivery.FAILED, ack.error
            return own
        self._settle(own, ack.message)
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

    def discard(self, to_id: str, msg: ChatMessage) -> bool:
        """Remove one of your messages the server refused (it never stored it)."""
        contact = self.contacts.get(to_id)
        if contact is None or msg.delivery is not Delivery.FAILED:
            return False
        kept = [m for m in contact.messages if m is not msg]
        removed = len(kept) < len(contact.messages)
        contact.messages = kept
        return removed

    def prepend_history(self, peer_id: str, messages: list[ChatMessage], has_more: bool) -> int:
        """Older messages from a ``history`` ack; returns how many were added."""
        contact = self.contacts.get(peer_id)
        if contact is None:
            return 0
        known = {m.id for m in contact.messages if m.id is not None}
        older = [m for m in messages if m.id not in known]
        contact.messages[:0] = older
        contact.has_more = has_more and bool(older)
        return len(older)

    def open(self, user_id: str) -> int:
        """Show a conversation; returns how many messages were unread (then zero)."""
        self.open_id = user_id
        self.unhide(user_id)
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

    # -- read markers and typing --------------------------------------------------------

    def mark_read(self, user_id: str, up_to: int) -> bool:
        """Your marker in a conversation moves to ``up_to`` (never back); the unread count
        follows. Returns whether it moved."""
        contact = self.contacts.get(user_id)
        if contact is None or later(contact.read_up_to, up_to) == contact.read_up_to:
            return False
        contact.read_up_to = up_to
        self._recount(contact, up_to)
        return True

    @staticmethod
    def _recount(contact: Contact, up_to: int) -> None:
        """Count the unread messages above a marker, when all of them are loaded."""
        loaded = next((m.id for m in contact.messages if m.id is not None), None)
        if not contact.has_more or (loaded is not None and loaded <= up_to):
            contact.unread = sum(
                1
                for m in contact.messages
                if m.from_id == contact.user_id and m.id is not None and m.id > up_to
            )

    def apply_read(self, by: str, with_id: str, up_to: int, at_ms: int | None) -> Contact | None:
        """A ``read`` from the server: your marker moved in another tab (``by`` is you), or
        the peer's on your messages (a receipt). Returns the contact whose conversation
        shows it differently, or None when nothing changed."""
        if by == self.self_id:
            return self.contacts.get(with_id) if self.mark_read(with_id, up_to) else None
        contact = self.contacts.get(by)
        if with_id != self.self_id or contact is None:
            return None
        if later(contact.peer_read_up_to, up_to) == contact.peer_read_up_to:
            return None
        contact.peer_read_up_to, contact.peer_read_at = up_to, at_ms
        return contact

    def set_typing(self, user_id: str, typing: bool, now: float) -> bool:
        """A ``typing`` from a user; returns whether what is shown changes."""
        contact = self.contacts.get(user_id)
        if contact is None or user_id == self.self_id:
            return False
        was = contact.typing_until is not None
        contact.typing_until = now + TYPING_EXPIRES_S if typing else None
        return was != typing

    def expire_typing(self, now: float) -> list[str]:
        """Forget "typing" not repeated in time; returns whose expired."""
        expired = []
        for contact in self.contacts.values():
            if contact.typing_until is not None and contact.typing_until <= now:
                contact.typing_until = None
                expired.append(contact.user_id)
        return expired
