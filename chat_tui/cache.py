"""What chat-tui last knew, so it opens at once and offline: the roster and the latest
messages of the most recent conversations (issue 15, item 12).

One JSON file beside the session file, private like it (mode 0600 in a 0700 folder: it
holds message text). It is written in the server's own ``users`` format and read back
through the same parser (chat_tui.wire) as a live snapshot, so a damaged or hostile file
can do no more than a hostile server could. Written when a snapshot arrives and when
chat-tui quits; the next snapshot from the server replaces what it showed. A session the
server no longer knows takes its cache with it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from chat_tui.records import ChatMessage, Contact, Delivery, RosterEntry
from chat_tui.session_file import read_json, with_suppressed_unlink, write_private
from chat_tui.state import ChatState
from chat_tui.wire import parse_roster

VERSION = 1
CONVERSATIONS = 30  # the most recently active conversations keep their messages
MESSAGES = 50  # the latest messages of each of them
USERS = 1_000  # rows kept (a server's roster is bounded too)


def message_data(msg: ChatMessage) -> dict[str, Any]:
    """A stored message as the server sends it."""
    data: dict[str, Any] = {"content": msg.content, "from": msg.from_id, "to": msg.to_id}
    for key, value in (
        ("id", msg.id),
        ("ts", msg.ts),
        ("editedAt", msg.edited_at),
        ("replyTo", msg.reply_to),
    ):
        if value is not None:
            data[key] = value
    if msg.deleted:
        data["deleted"] = True
    return data


def contact_data(contact: Contact, with_messages: bool) -> dict[str, Any]:
    """A roster row as the server's ``users`` item; presence is not kept (it is not known
    until the server says)."""
    stored = [m for m in contact.messages if m.delivery is Delivery.SENT]
    kept = stored[-MESSAGES:] if with_messages else []
    data: dict[str, Any] = {
        "userID": contact.user_id,
        "username": contact.username,
        "connected": False,
        "messages": [message_data(m) for m in kept],
        "hasMore": contact.has_more or len(kept) < len(stored),
        "unread": contact.unread,
    }
    for key, value in (
        ("readUpTo", contact.read_up_to),
        ("peerReadUpTo", contact.peer_read_up_to),
        ("peerReadAt", contact.peer_read_at),
        ("lastSeen", contact.last_seen),
    ):
        if value is not None:
            data[key] = value
    return data


class Cache:
    """The cache file of one session."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, state: ChatState, user_id: str, extended: bool) -> None:
        """Keep what ``state`` shows (of the session of ``user_id``)."""
        by_activity = sorted(state.contacts.values(), key=lambda c: -c.active)[:USERS]
        recent = {c.user_id for c in by_activity[:CONVERSATIONS]}
        users = [contact_data(c, c.user_id in recent) for c in by_activity]
        data = {"version": VERSION, "userID": user_id, "extended": extended, "users": users}
        if state.max_length is not None:
            data["maxMessageLength"] = state.max_length
        write_private(self.path, data)

    def load(self, user_id: str) -> tuple[list[RosterEntry], bool, int | None] | None:
        """(roster, whether the server speaks chat-server's extensions, its longest
        message) as last saved for ``user_id``; None when there is none (raises
        session_file.CorruptFile, after moving a broken file aside)."""
        data = read_json(self.path)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            return None
        if data.get("userID") != user_id:  # another login's: not ours to show
            return None
        entries, _ = parse_roster(data.get("users"))
        # presence is never taken from the cache
        entries = [replace(e, connected=False) if e.connected else e for e in entries]
        longest = data.get("maxMessageLength")
        valid = isinstance(longest, int) and not isinstance(longest, bool) and longest > 0
        return entries, data.get("extended") is True, longest if valid else None

    def forget(self) -> None:
        with_suppressed_unlink(self.path)
