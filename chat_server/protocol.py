"""Wire names, payload shapes and validation of the private-messaging protocol.

Pure: no I/O, no aiohttp, no Socket.IO. The server and chat_tui both import it, and it is
the only place where wire names (``sessionID``, ``userID``, ``"private message"``) meet
Python names.
"""

from __future__ import annotations

import contextvars
import math
import unicodedata
from dataclasses import dataclass
from typing import Any, Final

# Events (the tutorial's)
SESSION: Final = "session"
USERS: Final = "users"
USER_CONNECTED: Final = "user connected"
USER_DISCONNECTED: Final = "user disconnected"
PRIVATE_MESSAGE: Final = "private message"
# Events (our extensions)
HISTORY: Final = "history"

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
ERR_UNKNOWN_USER: Final = "unknown user"
ERR_UNKNOWN_EVENT: Final = "unknown event"
ERR_UNAVAILABLE: Final = "unavailable"
ERR_TOO_MANY_CONNECTIONS: Final = "too many connections"
ERR_RATE_LIMITED: Final = "rate limited"
ERR_INTERNAL: Final = "internal error"
REASON_USERNAME_REQUIRED: Final = "username required"
REASON_USERNAME_NOT_STRING: Final = "username must be a string"
REASON_USERNAME_TOO_LONG: Final = "username too long"
REASON_USERNAME_CONTROL: Final = "username contains control characters"
REASON_USERNAME_TAKEN: Final = "username taken"

USERNAME_MAX: Final = 32
CLIENT_ID_MAX: Final = 64
HISTORY_LIMIT_MAX: Final = 200
HISTORY_LIMIT_DEFAULT: Final = 50
# Socket.IO IDs in this protocol are short opaque strings; anything longer is not an ID.
ID_MAX: Final = 128

# Invisible characters that reorder or hide text: refused in usernames so one name cannot
# impersonate another on screen. ZWJ (U+200D) stays allowed: emoji sequences use it.
_BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


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


@dataclass(frozen=True, slots=True)
class HistoryRequest:
    """A validated C->S ``history`` request: messages with ``peer`` older than ``before``."""

    peer: str
    before: int | None
    limit: int


def parse_auth(auth: object) -> AuthRequest:
    """Read a handshake ``auth`` of any shape; never raises."""
    if not isinstance(auth, dict):
        return AuthRequest(session_id=None, username=None)
    session_id = auth.get("sessionID")
    if not isinstance(session_id, str) or not session_id or len(session_id) > ID_MAX:
        session_id = None
    return AuthRequest(session_id=session_id, username=auth.get("username"))


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS


def validate_username(raw: object) -> str:
    """Return the trimmed username, or raise ProtocolError with the refusal reason."""
    if raw is None:
        raise ProtocolError(REASON_USERNAME_REQUIRED)
    if not isinstance(raw, str):
        raise ProtocolError(REASON_USERNAME_NOT_STRING)
    name = raw.strip()
    if not name:
        raise ProtocolError(REASON_USERNAME_REQUIRED)
    if len(name) > USERNAME_MAX:
        raise ProtocolError(REASON_USERNAME_TOO_LONG)
    if any(_is_control(ch) for ch in name):
        raise ProtocolError(REASON_USERNAME_CONTROL)
    return name


def username_key(name: str) -> str:
    """The form under which two usernames count as the same (``--unique-usernames``)."""
    return name.casefold()


def _is_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= ID_MAX


def parse_send(data: object, max_length: int) -> SendRequest:
    """Validate a C->S ``private message`` payload ``{content, to, clientId?}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    content = data.get("content")
    if not isinstance(content, str):
        raise ProtocolError(ERR_INVALID_CONTENT)
    if not content.strip():
        raise ProtocolError(ERR_EMPTY_CONTENT)
    if len(content) > max_length:
        raise ProtocolError(ERR_CONTENT_TOO_LONG)
    to = data.get("to")
    if not _is_id(to):
        raise ProtocolError(ERR_INVALID_RECIPIENT)
    client_id = data.get("clientId")
    if client_id is not None and not (
        isinstance(client_id, str) and 0 < len(client_id) <= CLIENT_ID_MAX
    ):
        raise ProtocolError(ERR_INVALID_CLIENT_ID)
    assert isinstance(to, str)
    return SendRequest(content=content, to=to, client_id=client_id)


def parse_history(data: object) -> HistoryRequest:
    """Validate a C->S ``history`` payload ``{with, before?, limit?}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    peer = data.get("with")
    if not _is_id(peer):
        raise ProtocolError(ERR_UNKNOWN_USER)
    before = data.get("before")
    # bool is an int in Python; on the wire true/false are not message ids
    if before is not None and (isinstance(before, bool) or not isinstance(before, int)):
        raise ProtocolError(ERR_INVALID_BEFORE)
    limit = data.get("limit", HISTORY_LIMIT_DEFAULT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= HISTORY_LIMIT_MAX:
        raise ProtocolError(ERR_INVALID_LIMIT)
    assert isinstance(peer, str)
    return HistoryRequest(peer=peer, before=before, limit=limit)


def message_payload(
    msg_id: int, ts: int, content: str, from_id: str, to_id: str, client_id: str | None
) -> dict[str, Any]:
    """S->C ``private message`` and history entry: the tutorial's fields plus ours."""
    out: dict[str, Any] = {"id": msg_id, "ts": ts, "content": content, "from": from_id, "to": to_id}
    if client_id is not None:
        out["clientId"] = client_id
    return out


def user_payload(
    user_id: str,
    username: str,
    connected: bool,
    messages: list[dict[str, Any]],
    has_more: bool = False,
) -> dict[str, Any]:
    """One roster entry (``users`` item, ``user connected``)."""
    return {
        "userID": user_id,
        "username": username,
        "connected": connected,
        "messages": messages,
        "hasMore": has_more,
    }


def error_ack(reason: str) -> dict[str, str]:
    """The ack sent back for a refused event."""
    return {"error": reason}


def rate_limited_ack(wait_s: float) -> dict[str, Any]:
    """The ack for an event over the sender's rate: retry after ``retryAfter`` ms."""
    return {"error": ERR_RATE_LIMITED, "retryAfter": max(1, math.ceil(wait_s * 1000))}


# Set around each event a client sent (fanout.ChatSocketServer; handlers run inline, so
# they see their own event's values): that it came from a client, and whether it asked
# for an ack. "connect" and "disconnect" sent by a client are then not mistaken for the
# server's own lifecycle calls.
FROM_CLIENT: contextvars.ContextVar[bool] = contextvars.ContextVar("from_client", default=False)
ACK_WANTED: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_wanted", default=False)
