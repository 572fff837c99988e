"""Server payloads -> the client's records. Pure, and forgiving: anything malformed is
dropped (None, or left out of a list), never raised, whatever a server sends."""

from __future__ import annotations

from typing import Any

from chat_server import protocol as p
from chat_tui.records import Ack, ChatMessage, RosterEntry


def _int(value: object) -> int | None:
    """An integer on the wire (JSON true/false are not integers)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_message(data: object) -> ChatMessage | None:
    """A message payload (``private message``, history entry), or None when it is not one."""
    if not isinstance(data, dict):
        return None
    content, from_id, to_id = data.get("content"), data.get("from"), data.get("to")
    if not (isinstance(content, str) and isinstance(from_id, str) and isinstance(to_id, str)):
        return None
    client_id = data.get("clientId")
    deleted = data.get("deleted") is True
    return ChatMessage(
        content="" if deleted else content,
        from_id=from_id,
        to_id=to_id,
        id=_int(data.get("id")),
        ts=_int(data.get("ts")),
        client_id=client_id if isinstance(client_id, str) else None,
        edited_at=_int(data.get("editedAt")),
        deleted=deleted,
        reply_to=_int(data.get("replyTo")),
    )


def parse_deleted(data: object) -> tuple[int, str, str] | None:
    """A S->C ``message deleted``: (id, from, to)."""
    if not isinstance(data, dict):
        return None
    msg_id, from_id, to_id = _int(data.get("id")), data.get("from"), data.get("to")
    if msg_id is None or not isinstance(from_id, str) or not isinstance(to_id, str):
        return None
    return msg_id, from_id, to_id


def parse_messages(data: object) -> list[ChatMessage]:
    """The well-formed messages of a list (anything else: none)."""
    if not isinstance(data, list):
        return []
    return [m for m in (parse_message(x) for x in data) if m is not None]


def parse_roster_entry(data: object) -> RosterEntry | None:
    """A ``users`` item or a ``user connected`` payload."""
    if not isinstance(data, dict):
        return None
    user_id, username = data.get("userID"), data.get("username")
    if not isinstance(user_id, str) or not isinstance(username, str):
        return None
    unread = _int(data.get("unread"))
    return RosterEntry(
        user_id=user_id,
        username=username,
        connected=bool(data.get("connected")),
        messages=parse_messages(data.get("messages")),
        has_more=bool(data.get("hasMore")),
        unread=max(0, unread) if unread is not None else None,
        read_up_to=_int(data.get("readUpTo")),
        peer_read_up_to=_int(data.get("peerReadUpTo")),
        peer_read_at=_int(data.get("peerReadAt")),
        last_seen=_int(data.get("lastSeen")),
    )


def parse_roster(data: object) -> tuple[list[RosterEntry], bool]:
    """A ``users`` payload: its entries, and whether the server speaks chat-server's
    extensions (its entries carry ``hasMore``)."""
    if not isinstance(data, list):
        return [], False
    entries = [e for e in (parse_roster_entry(x) for x in data) if e is not None]
    extended = any(isinstance(x, dict) and "hasMore" in x for x in data)
    return entries, extended


def parse_session(data: object) -> tuple[str, str, int | None] | None:
    """A ``session`` payload: (sessionID, userID, the longest message the server takes,
    when it says: chat-server's ``limits.maxMessageLength``)."""
    if not isinstance(data, dict):
        return None
    session_id, user_id = data.get("sessionID"), data.get("userID")
    if not isinstance(session_id, str) or not isinstance(user_id, str):
        return None
    limits = data.get("limits")
    longest = limits.get("maxMessageLength") if isinstance(limits, dict) else None
    if not (isinstance(longest, int) and not isinstance(longest, bool) and longest > 0):
        longest = None
    return session_id, user_id, longest


def parse_user_id(data: object) -> str | None:
    """A ``user disconnected`` payload: the bare userID."""
    return data if isinstance(data, str) else None


def parse_read(data: object) -> tuple[str, str, int, int | None] | None:
    """A S->C ``read``: (by, with, upTo, at)."""
    if not isinstance(data, dict):
        return None
    by, with_id, up_to = data.get("by"), data.get("with"), _int(data.get("upTo"))
    if not isinstance(by, str) or not isinstance(with_id, str) or up_to is None:
        return None
    return by, with_id, up_to, _int(data.get("at"))


def parse_typing(data: object) -> tuple[str, bool] | None:
    """A S->C ``typing``: (from, typing)."""
    if not isinstance(data, dict):
        return None
    from_id, typing = data.get("from"), data.get("typing")
    if not isinstance(from_id, str) or not isinstance(typing, bool):
        return None
    return from_id, typing


def parse_send_ack(ack: object) -> Ack:
    """The ack of a ``private message``. Anything that is neither a stored message nor an
    error (a server without acks answers nothing) counts as taken."""
    if not isinstance(ack, dict):
        return Ack()
    error = ack.get("error")
    if isinstance(error, str):
        retry = _int(ack.get("retryAfter"))
        if error == p.ERR_RATE_LIMITED and retry is None:
            retry = 1000
        return Ack(error=error, retry_after_ms=retry)
    return Ack(message=parse_message(ack.get("message")))


def parse_history_ack(ack: object) -> tuple[list[ChatMessage], bool] | None:
    """The ack of a ``history`` request: (messages, hasMore), or None when it is not one."""
    if not isinstance(ack, dict) or "messages" not in ack:
        return None
    return parse_messages(ack["messages"]), bool(ack.get("hasMore"))


def has_newer(ack: object) -> bool:
    """Whether a ``history`` (or ``search``) ack says newer messages exist."""
    return isinstance(ack, dict) and ack.get("hasNewer") is True


def error_of(ack: object) -> str | None:
    """The ``error`` of an ack, if it is a refusal."""
    error = ack.get("error") if isinstance(ack, dict) else None
    return error if isinstance(error, str) else None


def parse_directory_ack(ack: object) -> list[RosterEntry]:
    """The users of a ``directory`` ack (none when it is not one)."""
    if not isinstance(ack, dict):
        return []
    users = ack.get("users")
    entries = (parse_roster_entry(u) for u in (users if isinstance(users, list) else []))
    return [e for e in entries if e is not None]


def send_payload(
    to: str, content: str, client_id: str | None, reply_to: int | None = None
) -> dict[str, Any]:
    """A C->S ``private message``; the clientId and replyTo only for servers that take
    them."""
    payload: dict[str, Any] = {"content": content, "to": to}
    if client_id is not None:
        payload["clientId"] = client_id
    if reply_to is not None:
        payload["replyTo"] = reply_to
    return payload


def read_request(with_id: str, up_to: int, private: bool) -> dict[str, Any]:
    """A C->S ``read``; ``private`` only when set (no receipt for the peer)."""
    payload: dict[str, Any] = {"with": with_id, "upTo": up_to}
    if private:
        payload["private"] = True
    return payload
