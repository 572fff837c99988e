"""Wire names, payload shapes and validation of the private-messaging protocol.

Pure: no I/O, no aiohttp, no Socket.IO. The server and chat_tui both import it, and it
(with protocol_edits.py, the payloads of edits, deletes and search) is the only place
where wire names (``sessionID``, ``userID``, ``"private message"``) meet Python names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from chat_server.text import BIDI_CONTROLS as BIDI_CONTROLS
from chat_server.text import is_control, visible_text
from chat_server.text import is_invisible as is_invisible
from chat_server.text import username_key as username_key

# Events (the tutorial's)
SESSION: Final = "session"
USERS: Final = "users"
USER_CONNECTED: Final = "user connected"
USER_DISCONNECTED: Final = "user disconnected"
PRIVATE_MESSAGE: Final = "private message"
# Events (our extensions)
HISTORY: Final = "history"
DIRECTORY: Final = "directory"
USER_DELETED: Final = "user deleted"
READ: Final = "read"
TYPING: Final = "typing"
EDIT_MESSAGE: Final = "edit message"
DELETE_MESSAGE: Final = "delete message"
MESSAGE_EDITED: Final = "message edited"
MESSAGE_DELETED: Final = "message deleted"
SEARCH: Final = "search"

# The one connect-error message the tutorial's clients understand.
INVALID_USERNAME: Final = "invalid username"

# Error strings carried in acks ({"error": ...}) and in connect-error data ({"reason": ...}).
ERR_INVALID_PAYLOAD: Final = "invalid payload"
ERR_INVALID_CONTENT: Final = "invalid content"
ERR_EMPTY_CONTENT: Final = "empty content"
ERR_CONTENT_TOO_LONG: Final = "content too long"
ERR_INVALID_RECIPIENT: Final = "invalid recipient"
ERR_UNKNOWN_RECIPIENT: Final = "unknown recipient"
ERR_INVALID_CLIENT_ID: Final = "invalid clientId"
ERR_INVALID_BEFORE: Final = "invalid before"
ERR_INVALID_LIMIT: Final = "invalid limit"
ERR_INVALID_PREFIX: Final = "invalid prefix"
ERR_INVALID_UP_TO: Final = "invalid upTo"
ERR_INVALID_PRIVATE: Final = "invalid private"
ERR_INVALID_TYPING: Final = "invalid typing"
ERR_INVALID_AFTER: Final = "invalid after"
ERR_UNKNOWN_USER: Final = "unknown user"
ERR_NO_SUCH_MESSAGE: Final = "no such message"
ERR_NOT_YOUR_MESSAGE: Final = "not your message"
# a send refused for one of these fails the same way when retried
FINAL_SEND_ERRORS: Final = frozenset(
    {
        ERR_INVALID_CONTENT,
        ERR_EMPTY_CONTENT,
        ERR_CONTENT_TOO_LONG,
        ERR_INVALID_RECIPIENT,
        ERR_UNKNOWN_RECIPIENT,
        ERR_UNKNOWN_USER,
        ERR_NO_SUCH_MESSAGE,
    }
)
ERR_INVALID_AROUND: Final = "invalid around"
ERR_INVALID_QUERY: Final = "invalid query"
ERR_EMPTY_QUERY: Final = "empty query"
ERR_UNKNOWN_EVENT: Final = "unknown event"
ERR_UNAVAILABLE: Final = "unavailable"
ERR_TOO_MANY_CONNECTIONS: Final = "too many connections"
ERR_RATE_LIMITED: Final = "rate limited"
ERR_INTERNAL: Final = "internal error"
REASON_USERNAME_REQUIRED: Final = "username required"
REASON_USERNAME_NOT_STRING: Final = "username must be a string"
REASON_USERNAME_TOO_LONG: Final = "username too long"
REASON_USERNAME_CONTROL: Final = "username contains control characters"
REASON_USERNAME_INVISIBLE: Final = "username contains invisible characters"
REASON_USERNAME_TAKEN: Final = "username taken"

USERNAME_MIN: Final = 1  # the tutorial's server takes any non-empty name
USERNAME_MAX: Final = 32
CLIENT_ID_MAX: Final = 64
HISTORY_LIMIT_MAX: Final = 200
HISTORY_LIMIT_DEFAULT: Final = 50
DIRECTORY_LIMIT_MAX: Final = 100
DIRECTORY_LIMIT_DEFAULT: Final = 50
SEARCH_LIMIT_MAX: Final = 50
SEARCH_LIMIT_DEFAULT: Final = 20
SEARCH_QUERY_MAX: Final = 256  # characters
SEARCH_WORDS_MAX: Final = 16
# Socket.IO IDs in this protocol are short opaque strings; anything longer is not an ID.
ID_MAX: Final = 128
# Message ids are SQLite integers; anything outside int64 cannot name one.
INT64_MAX: Final = 2**63 - 1


class ProtocolError(ValueError):
    """A payload that breaks the protocol; ``reason`` is the error string for the wire."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What a handshake's ``auth`` object asks for."""

    session_id: str | None
    username: object  # validated separately: only needed when the session is unknown


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A validated C->S ``private message``."""

    content: str
    to: str
    client_id: str | None
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """A validated C->S ``history`` request: messages with ``peer`` older than ``before``,
    newer than ``after``, or on both sides of ``around`` (at most one of the three)."""

    peer: str
    before: int | None
    limit: int
    after: int | None = None
    around: int | None = None


@dataclass(frozen=True, slots=True)
class DirectoryRequest:
    """A validated C->S ``directory`` request: users whose name starts with ``prefix``
    (compared as username_key), after the user ``after``, at most ``limit``."""

    prefix: str
    after: str | None
    limit: int


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A validated C->S ``read``: messages from ``peer`` up to ``up_to`` are read."""

    peer: str
    up_to: int
    private: bool


@dataclass(frozen=True, slots=True)
class TypingRequest:
    """A validated C->S ``typing``."""

    to: str
    typing: bool


def parse_auth(auth: object) -> AuthRequest:
    """Read a handshake ``auth`` of any shape; never raises."""
    if not isinstance(auth, dict):
        return AuthRequest(session_id=None, username=None)
    session_id = auth.get("sessionID")
    if not isinstance(session_id, str) or not session_id or len(session_id) > ID_MAX:
        session_id = None
    return AuthRequest(session_id=session_id, username=auth.get("username"))


def validate_username(raw: object) -> str:
    """Return the trimmed username, or raise ProtocolError with the refusal reason.

    Refused: control, line-separator, surrogate, private-use and unassigned characters,
    and anything invisible (format and default-ignorable characters, blank-looking ones),
    so that no name can hide characters or pass for another on screen."""
    if raw is None:
        raise ProtocolError(REASON_USERNAME_REQUIRED)
    if not isinstance(raw, str):
        raise ProtocolError(REASON_USERNAME_NOT_STRING)
    name = raw.strip()
    if len(name) < USERNAME_MIN:
        raise ProtocolError(REASON_USERNAME_REQUIRED)
    if len(name) > USERNAME_MAX:
        raise ProtocolError(REASON_USERNAME_TOO_LONG)
    if name.isascii() and name.isprintable():
        return name
    if any(is_control(ch) for ch in name):
        raise ProtocolError(REASON_USERNAME_CONTROL)
    if any(is_invisible(ch) for ch in name):
        raise ProtocolError(REASON_USERNAME_INVISIBLE)
    return name


def is_int64(value: object) -> bool:
    """An integer that fits the store's ids (JSON true/false are not integers)."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and -INT64_MAX <= value <= INT64_MAX
    )


def _is_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_MAX


def parse_send(data: object, max_length: int) -> SendRequest:
    """Validate a C->S ``private message`` payload ``{content, to, clientId?}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    content = _content(data, max_length)
    to = data.get("to")
    if not _is_id(to):
        raise ProtocolError(ERR_INVALID_RECIPIENT)
    client_id = data.get("clientId")
    if client_id is not None and not (
        isinstance(client_id, str) and 0 < len(client_id) <= CLIENT_ID_MAX
    ):
        raise ProtocolError(ERR_INVALID_CLIENT_ID)
    reply_to = data.get("replyTo")
    if reply_to is not None and not _is_message_id(reply_to):
        raise ProtocolError(ERR_NO_SUCH_MESSAGE)
    assert isinstance(to, str)
    return SendRequest(content=content, to=to, client_id=client_id, reply_to=reply_to)


def _content(data: dict[str, Any], max_length: int) -> str:
    """The ``content`` of a send or an edit: a string with something visible in it."""
    content = data.get("content")
    if not isinstance(content, str):
        raise ProtocolError(ERR_INVALID_CONTENT)
    if not visible_text(content):  # white space and invisible characters only
        raise ProtocolError(ERR_EMPTY_CONTENT)
    if len(content) > max_length:
        raise ProtocolError(ERR_CONTENT_TOO_LONG)
    return content


def _is_message_id(value: object) -> bool:
    return is_int64(value) and value > 0  # type: ignore[operator]


def parse_history(data: object) -> HistoryRequest:
    """Validate a C->S ``history`` payload ``{with, before?, limit?}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    peer = data.get("with")
    if not _is_id(peer):
        raise ProtocolError(ERR_UNKNOWN_USER)
    # bool is an int in Python; on the wire true/false are not message ids
    before, after, around = data.get("before"), data.get("after"), data.get("around")
    if before is not None and not is_int64(before):
        raise ProtocolError(ERR_INVALID_BEFORE)
    if after is not None and not is_int64(after):
        raise ProtocolError(ERR_INVALID_AFTER)
    if around is not None and not _is_message_id(around):
        raise ProtocolError(ERR_INVALID_AROUND)
    if sum(x is not None for x in (before, after, around)) > 1:
        raise ProtocolError(ERR_INVALID_PAYLOAD)  # one of before, after, around
    limit = _limit(data, HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)
    assert isinstance(peer, str)
    return HistoryRequest(peer=peer, before=before, limit=limit, after=after, around=around)


def _limit(data: dict[str, Any], default: int, most: int) -> int:
    limit = data.get("limit", default)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise ProtocolError(ERR_INVALID_LIMIT)
    return limit


def parse_directory(data: object) -> DirectoryRequest:
    """Validate a C->S ``directory`` payload ``{prefix?, after?, limit?}``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    prefix = data.get("prefix", "")
    if not isinstance(prefix, str) or len(prefix) > USERNAME_MAX:
        raise ProtocolError(ERR_INVALID_PREFIX)
    after = data.get("after")
    if after is not None and not _is_id(after):
        raise ProtocolError(ERR_INVALID_AFTER)
    limit = _limit(data, DIRECTORY_LIMIT_DEFAULT, DIRECTORY_LIMIT_MAX)
    key = username_key(prefix) if prefix.strip() else ""
    return DirectoryRequest(
        prefix=key, after=after if isinstance(after, str) else None, limit=limit
    )


def parse_read(data: object) -> ReadRequest:
    """Validate a C->S ``read`` payload ``{with, upTo, private?}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    peer = data.get("with")
    if not _is_id(peer):
        raise ProtocolError(ERR_UNKNOWN_USER)
    up_to = data.get("upTo")
    if not is_int64(up_to) or up_to < 1:  # type: ignore[operator]
        raise ProtocolError(ERR_INVALID_UP_TO)
    private = data.get("private", False)
    if not isinstance(private, bool):
        raise ProtocolError(ERR_INVALID_PRIVATE)
    assert isinstance(peer, str) and isinstance(up_to, int)
    return ReadRequest(peer=peer, up_to=up_to, private=private)


def parse_typing(data: object) -> TypingRequest:
    """Validate a C->S ``typing`` payload ``{to, typing}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    to = data.get("to")
    if not _is_id(to):
        raise ProtocolError(ERR_INVALID_RECIPIENT)
    typing = data.get("typing")
    if not isinstance(typing, bool):
        raise ProtocolError(ERR_INVALID_TYPING)
    assert isinstance(to, str)
    return TypingRequest(to=to, typing=typing)


def read_payload(by: str, with_id: str, up_to: int, at_ms: int) -> dict[str, Any]:
    """S->C ``read``: ``by`` has read ``with_id``'s messages up to ``up_to``."""
    return {"by": by, "with": with_id, "upTo": up_to, "at": at_ms}


def directory_entry(user_id: str, username: str, connected: bool) -> dict[str, Any]:
    """One ``directory`` result."""
    return {"userID": user_id, "username": username, "connected": connected}


def message_payload(
    msg_id: int,
    ts: int,
    content: str,
    from_id: str,
    to_id: str,
    client_id: str | None,
    *,
    edited_at: int | None = None,
    deleted: bool = False,
    reply_to: int | None = None,
) -> dict[str, Any]:
    """S->C ``private message`` and history entry: the tutorial's fields plus ours. A
    deleted message is a tombstone: empty content, ``deleted: true``, nothing else of it."""
    out: dict[str, Any] = {"id": msg_id, "ts": ts, "content": content, "from": from_id, "to": to_id}
    if deleted:
        out["content"] = ""
        out["deleted"] = True
        return out
    if client_id is not None:
        out["clientId"] = client_id
    if edited_at is not None:
        out["editedAt"] = edited_at
    if reply_to is not None:
        out["replyTo"] = reply_to
    return out


def user_payload(
    user_id: str,
    username: str,
    connected: bool,
    messages: list[dict[str, Any]],
    has_more: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """One roster entry (``users`` item, ``user connected``); ``extra`` holds the read
    state and last seen of a ``users`` item (roster.py)."""
    return {
        "userID": user_id,
        "username": username,
        "connected": connected,
        "messages": messages,
        "hasMore": has_more,
        **extra,
    }


def error_ack(reason: str) -> dict[str, str]:
    """The ack sent back for a refused event."""
    return {"error": reason}


def rate_limited_ack(wait_s: float) -> dict[str, Any]:
    """The ack for an event over the sender's rate: retry after ``retryAfter`` ms."""
    return {"error": ERR_RATE_LIMITED, "retryAfter": max(1, math.ceil(wait_s * 1000))}
