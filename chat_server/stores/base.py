"""The store interface every back end implements, and the records it deals in.

A store keeps users (with the hashes of their sessionIDs) and messages. It does not keep
presence: who is online lives in chat_server.presence, so a restart starts everyone offline
and a late "offline" write can never overwrite a newer "online".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable


@dataclass(frozen=True, slots=True)
class User:
    """A user: the public userID and the username chosen at first login."""

    user_id: str
    username: str


@dataclass(frozen=True, slots=True)
class Message:
    """A stored private message. ``id`` increases with every message the store accepts."""

    id: int
    from_id: str
    to_id: str
    content: str
    ts: int  # server time, ms since the epoch
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """Messages of one conversation, oldest first; ``has_more`` when older ones exist."""

    messages: list[Message]
    has_more: bool


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One login of a user (never the secret): who, and when it was created."""

    user: User
    created_ms: int | None


@dataclass(frozen=True, slots=True)
class Saved:
    """Result of save_message: the stored message and whether this call created it."""

    message: Message
    created: bool


class StoreError(Exception):
    """Base of the errors a store raises."""


class StoreUnavailable(StoreError):
    """The store cannot be reached or written now; nothing was stored. Retrying may work."""


class UsernameTaken(StoreError):
    """create_user(unique=True) found the name (case-insensitively) in use."""


class UserIdTaken(StoreError):
    """create_user was given a userID that exists already (callers draw a new one)."""


class UserCache:
    """The users a process knows, in creation order, kept in memory by every back end:
    a roster is built on every connection and must not cost a query per user."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._user_list: list[User] = []

    def _add_user(self, user: User) -> User:
        """Append a user (creation order); returns the cached instance."""
        known = self._users.setdefault(user.user_id, user)
        self._user_list.append(known)
        return known

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def list_users(self) -> list[User]:
        return self._user_list


K = TypeVar("K", str, int)


def conversation_key(a: K, b: K) -> tuple[K, K]:
    """The order-independent key of the conversation between two users (their userIDs,
    or the integers a back end knows them by)."""
    return (a, b) if a <= b else (b, a)


@runtime_checkable
class Store(Protocol):
    """Users, session hashes and messages. All methods are coroutines safe to call
    concurrently from many handlers; each docstring states the contract."""

    kind: str

    async def open(self) -> None:
        """Connect, create or migrate the schema, load caches. Called once before use."""

    async def close(self) -> None:
        """Flush everything accepted so far and release the back end. Idempotent."""

    async def create_user(
        self, user_id: str, username: str, session_hash: bytes, *, unique: bool = False
    ) -> User:
        """Create a user whose one session has hash ``session_hash``.

        Raises UsernameTaken when ``unique`` and the name's key (protocol.username_key)
        is in use, UserIdTaken when ``user_id`` exists. Durable when it returns.
        """

    async def user_for_session(self, session_hash: bytes) -> User | None:
        """The user owning the session with this hash, or None."""

    async def get_user(self, user_id: str) -> User | None:
        """The user with this userID, or None."""

    async def list_users(self) -> list[User]:
        """Every user, in creation order. The caller must not mutate the list."""

    async def save_message(
        self, from_id: str, to_id: str, content: str, client_id: str | None = None
    ) -> Saved:
        """Store a message and return it with its new id and ts.

        Both users exist (created with create_user). Durable (committed) before it
        returns. Calls complete in the order they were made, and ids follow that order.
        With ``client_id``, a second call with the same sender and client_id stores
        nothing and returns the first message with ``created=False``. Raises
        StoreUnavailable when nothing could be stored.
        """

    async def latest_by_peer(self, user_id: str, limit: int) -> dict[str, Page]:
        """For every peer ``user_id`` has exchanged messages with, the latest ``limit``
        messages of that conversation (oldest first). A self-conversation is keyed by
        ``user_id``. Peers without messages are absent."""

    async def history(self, user_id: str, peer_id: str, before: int | None, limit: int) -> Page:
        """Up to ``limit`` messages between ``user_id`` and ``peer_id`` with id < ``before``
        (or the latest when None), oldest first. Uses an index seek, never a scan."""

    async def counts(self) -> dict[str, int]:
        """Cheap totals for /healthz: at least ``users``. Raises StoreUnavailable when
        the back end cannot be reached (health checks rely on it)."""

    async def apply_retention(self, now_ms: int | None = None) -> int:
        """Delete messages older than the store's retention period (none: keep all);
        returns how many were deleted. Sessions are never deleted by retention."""

    async def list_sessions(self) -> list[SessionInfo]:
        """Every session, oldest first (for ``chat-server sessions list``)."""

    async def revoke_sessions(self, user_id: str) -> int:
        """Delete every session of a user; returns how many. Their sessionIDs stop
        working at once; servers disconnect their sockets (see live_sessions)."""

    async def live_sessions(self, session_hashes: list[bytes]) -> set[bytes]:
        """Which of these session hashes still exist (a server checks its connections)."""
