"""The store interface every back end implements, and the records it deals in.

A store keeps users (with the hashes of their sessionIDs) and messages. It does not keep
presence: who is online lives in chat_server.presence, so a restart starts everyone offline
and a late "offline" write can never overwrite a newer "online".
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from chat_server.protocol import username_key


@dataclass(frozen=True, slots=True)
class User:
    """A user: the public userID and the username chosen at first login."""

    user_id: str
    username: str


@dataclass(frozen=True, slots=True)
class Message:
    """A stored private message. ``id`` increases with every message the store accepts.
    A deleted message stays as a tombstone: ``deleted``, its content gone ("")."""

    id: int
    from_id: str
    to_id: str
    content: str
    ts: int  # server time, ms since the epoch
    client_id: str | None = None
    edited_at: int | None = None  # when its content was last edited (ms)
    deleted: bool = False
    reply_to: int | None = None  # the id of the message this one answers


@dataclass(frozen=True, slots=True)
class Page:
    """Messages of one conversation, oldest first; ``has_more`` when older ones exist,
    ``has_newer`` when newer ones than the last of the page exist."""

    messages: list[Message]
    has_more: bool
    has_newer: bool = False


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One login of a user (never the secret): who, and when it was created."""

    user: User
    created_ms: int | None


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as ``chat-server users list`` shows them."""

    user: User
    created_ms: int | None
    last_seen_ms: int | None  # the end of their last connection (None: never, or unknown)
    sessions: int


@dataclass(frozen=True, slots=True)
class ReadState:
    """One user's view of one conversation's read markers."""

    read_up_to: int | None  # the user's marker on the peer's messages (private or not)
    peer_read_up_to: int | None  # the peer's last public marker on the user's messages
    peer_read_at: int | None  # when the peer moved it (ms)
    unread: int  # the peer's messages to the user above the user's marker


@dataclass(frozen=True, slots=True)
class Marked:
    """Result of mark_read: the marker now, and whether this call moved it."""

    up_to: int | None
    moved: bool


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


class NoSuchMessage(StoreError):
    """No message with this id (or, for an edit or a reply, it is deleted)."""


class NotYourMessage(StoreError):
    """Only the sender of a message may edit or delete it."""


class UserCache:
    """The users a process knows, in creation order, kept in memory by every back end:
    a roster is built on every connection and must not cost a query per user. Also the
    directory: users sorted by the key of their name (protocol.username_key)."""

    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._user_list: list[User] = []
        self._listed: set[str] = set()  # the userIDs in _user_list
        self._by_name: list[tuple[str, str]] | None = None  # (name key, userID), sorted

    def _add_user(self, user: User) -> User:
        """Append a user (creation order) unless listed already; returns the cached
        instance."""
        known = self._users.setdefault(user.user_id, user)
        if known.user_id not in self._listed:
            self._listed.add(known.user_id)
            self._user_list.append(known)
            if self._by_name is not None:
                bisect.insort(self._by_name, (username_key(known.username), known.user_id))
        return known

    def _drop_user(self, user_id: str) -> None:
        """Forget a deleted user."""
        user = self._users.pop(user_id, None)
        if user_id in self._listed:
            self._listed.discard(user_id)
            self._user_list[:] = [u for u in self._user_list if u.user_id != user_id]
        if user is not None:
            self._by_name = None

    async def get_user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def list_users(self) -> list[User]:
        return self._user_list

    async def search_users(
        self, prefix: str, after: str | None, limit: int
    ) -> tuple[list[User], bool]:
        """Users whose name key starts with ``prefix`` (a username_key), in key order,
        after the user ``after`` (a userID: the last one of the previous page); and
        whether more follow. A binary search, never a scan."""
        if self._by_name is None:
            self._by_name = sorted((username_key(u.username), u.user_id) for u in self._user_list)
        index = self._by_name
        start = bisect.bisect_left(index, (prefix, ""))
        if after is not None and (user := self._users.get(after)) is not None:
            start = max(start, bisect.bisect_right(index, (username_key(user.username), after)))
        found: list[User] = []
        for key, user_id in index[start:]:
            if not key.startswith(prefix):
                return found, False
            if len(found) == limit:
                return found, True
            if (user := self._users.get(user_id)) is not None:
                found.append(user)
        return found, False


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
        self,
        from_id: str,
        to_id: str,
        content: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Saved:
        """Store a message and return it with its new id and ts.

        Both users exist (created with create_user). Durable (committed) before it
        returns. Calls complete in the order they were made, and ids follow that order.
        With ``client_id``, a second call with the same sender and client_id stores
        nothing and returns the first message with ``created=False``. ``reply_to`` is
        stored as given (the caller checked it with get_message). Raises
        StoreUnavailable when nothing could be stored.
        """

    async def get_message(self, user_id: str, message_id: int) -> Message | None:
        """The message with this id (a tombstone when deleted), or None: also when it is
        not in a conversation of ``user_id``'s (nobody learns of others' messages)."""

    async def edit_message(
        self, user_id: str, message_id: int, content: str, at_ms: int
    ) -> Message:
        """Replace the content of ``user_id``'s message; returns it with ``edited_at``.
        Raises NoSuchMessage (none, or deleted) or NotYourMessage. The old text leaves
        the search index in the same write. Durable when it returns."""

    async def delete_message(self, user_id: str, message_id: int) -> tuple[Message, bool]:
        """Turn ``user_id``'s message into a tombstone; returns it and whether this call
        deleted it (False: it was already). Raises NoSuchMessage or NotYourMessage. Its
        text leaves every structure of the store (and, within seconds, every file)."""

    async def search_messages(
        self, user_id: str, words: list[str], peer_id: str | None, before: int | None, limit: int
    ) -> tuple[list[Message], bool]:
        """Messages of ``user_id``'s conversations (only the one with ``peer_id`` when
        given) whose text holds every one of ``words`` (text.search_words form; whole
        words), with id < ``before``, newest
        first, at most ``limit``; and whether more match. Deleted messages never match."""

    async def search_users(
        self, prefix: str, after: str | None, limit: int
    ) -> tuple[list[User], bool]:
        """Users whose name key starts with ``prefix``, in key order, after the userID
        ``after``, at most ``limit``; and whether more follow (the directory)."""

    async def conversations(self, user_id: str) -> list[tuple[str, int]]:
        """Every peer ``user_id`` has messages with (yourself for notes to self), with
        the id of the latest message, newest conversation first."""

    async def latest_pages(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        """For each of these peers, the latest ``limit`` messages of the conversation
        with ``user_id`` (oldest first). Peers without messages are absent."""

    async def history(
        self,
        user_id: str,
        peer_id: str,
        before: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page:
        """Up to ``limit`` messages between ``user_id`` and ``peer_id``, oldest first: with
        id < ``before`` (the latest when None), or with ``after``, the first ``limit`` with
        id > ``after``. ``has_more``: older ones exist; ``has_newer``: newer ones exist.
        Uses an index seek, never a scan."""

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

    async def set_last_seen(self, user_id: str, when_ms: int) -> None:
        """Record the end of a user's last connection (stored; survives restarts)."""

    async def last_seen(self, user_ids: list[str]) -> dict[str, int]:
        """When each of these users' last connection ended (absent: never, or unknown)."""

    async def mark_read(
        self, user_id: str, peer_id: str, up_to: int, *, private: bool, at_ms: int
    ) -> Marked:
        """Move ``user_id``'s read marker on ``peer_id``'s messages forward to ``up_to``,
        at most to the latest message of their conversation: a marker never moves back
        (a lower ``up_to`` changes nothing) and never past what exists. A private read
        leaves the peer's receipt (peer_read_up_to) where it was. Written through the same
        group commit as messages; durable when it returns."""

    async def read_states(self, user_id: str, peer_ids: list[str]) -> dict[str, ReadState]:
        """``user_id``'s read state with each of these peers (every peer is present)."""

    async def user_infos(self) -> list[UserInfo]:
        """Every user with when they were created and last seen (``users list``)."""

    async def delete_user(self, user_id: str) -> int:
        """Erase a user: their sessions, every message of their conversations (both
        directions) and the user. Returns how many messages were erased. Servers sharing
        the store learn of it through removed_since."""

    async def removed_since(self, cursor: int) -> tuple[list[str], int]:
        """The userIDs deleted after ``cursor`` (0: from the start), and the new cursor.
        A server polls it to drop deleted users from its cache and its clients' rosters."""

    async def idle_users(self, cutoff_ms: int) -> list[str]:
        """Users with no message at all whose last connection ended (or who were created,
        when never seen) before ``cutoff_ms``: candidates for pruning."""
