"""In-process store for throw-away runs and tests (``memory://``): lost on exit."""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import time

from chat_server.protocol import username_key
from chat_server.stores.base import (
    Marked,
    Message,
    NoSuchMessage,
    NotYourMessage,
    Page,
    ReadState,
    Saved,
    SessionInfo,
    User,
    UserCache,
    UserIdTaken,
    UserInfo,
    UsernameTaken,
    conversation_key,
)
from chat_server.text import matches, search_words


class MemoryStore(UserCache):
    """Everything in dicts and lists; every operation is synchronous under the hood, so
    calls complete in the order they are made."""

    kind = "memory"

    def __init__(self, retention_days: int = 0) -> None:
        super().__init__()
        self.retention_days = retention_days
        self._name_keys: set[str] = set()
        self._sessions: dict[bytes, str] = {}
        self._session_created: dict[bytes, int] = {}
        # conversation key -> messages (ids increase along the list) and their ids
        self._convs: dict[tuple[str, str], list[Message]] = {}
        self._conv_ids: dict[tuple[str, str], list[int]] = {}
        self._conv_of: dict[int, tuple[str, str]] = {}  # message id -> conversation key
        self._peers: dict[str, dict[str, None]] = {}
        self._by_client_id: dict[tuple[str, str], Message] = {}
        self._next_id = 1
        self._messages = 0
        self._created: dict[str, int] = {}
        self._last_seen: dict[str, int] = {}
        self._removed: list[str] = []
        self._reads: dict[tuple[str, str], int] = {}  # (reader, peer) -> marker
        self._shown: dict[tuple[str, str], tuple[int, int]] = {}  # public marker, when

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to flush."""

    async def create_user(
        self, user_id: str, username: str, session_hash: bytes, *, unique: bool = False
    ) -> User:
        key = username_key(username)
        if unique and key in self._name_keys:
            raise UsernameTaken(username)
        if user_id in self._users:
            raise UserIdTaken(user_id)
        user = self._add_user(User(user_id=user_id, username=username))
        self._name_keys.add(key)
        now = time.time_ns() // 1_000_000
        self._sessions[session_hash] = user_id
        self._session_created[session_hash] = now
        self._created[user_id] = now
        return user

    async def user_for_session(self, session_hash: bytes) -> User | None:
        user_id = self._sessions.get(session_hash)
        return None if user_id is None else self._users.get(user_id)

    async def save_message(
        self,
        from_id: str,
        to_id: str,
        content: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Saved:
        if client_id is not None:
            first = self._by_client_id.get((from_id, client_id))
            if first is not None:  # as it is now (edited, deleted)
                now = await self.get_message(from_id, first.id)
                return Saved(now or first, created=False)
        msg = Message(
            id=self._next_id,
            from_id=from_id,
            to_id=to_id,
            content=content,
            ts=time.time_ns() // 1_000_000,
            client_id=client_id,
            reply_to=reply_to,
        )
        self._next_id += 1
        self._messages += 1
        key = conversation_key(from_id, to_id)
        self._convs.setdefault(key, []).append(msg)
        self._conv_ids.setdefault(key, []).append(msg.id)
        self._conv_of[msg.id] = key
        self._peers.setdefault(from_id, {})[to_id] = None
        self._peers.setdefault(to_id, {})[from_id] = None
        if client_id is not None:
            self._by_client_id[(from_id, client_id)] = msg
        return Saved(msg, created=True)

    async def conversations(self, user_id: str) -> list[tuple[str, int]]:
        found = []
        for peer in self._peers.get(user_id, {}):
            msgs = self._convs.get(conversation_key(user_id, peer))
            if msgs:
                found.append((peer, msgs[-1].id))
        return sorted(found, key=lambda c: -c[1])

    async def latest_pages(self, user_id: str, peer_ids: list[str], limit: int) -> dict[str, Page]:
        out: dict[str, Page] = {}
        for peer in peer_ids:
            msgs = self._convs.get(conversation_key(user_id, peer))
            if msgs:
                out[peer] = Page(msgs[-limit:], has_more=len(msgs) > limit)
        return out

    async def history(
        self,
        user_id: str,
        peer_id: str,
        before: int | None,
        limit: int,
        after: int | None = None,
    ) -> Page:
        key = conversation_key(user_id, peer_id)
        msgs, ids = self._convs.get(key, []), self._conv_ids.get(key, [])
        if after is not None:
            start = bisect.bisect_right(ids, after)
            end = min(len(msgs), start + limit)
        else:
            end = len(msgs) if before is None else bisect.bisect_left(ids, before)
            start = max(0, end - limit)
        return Page(msgs[start:end], has_more=start > 0, has_newer=end < len(msgs))

    # -- edits, deletes, search -------------------------------------------------------

    def _locate(self, message_id: int) -> tuple[list[Message], int] | None:
        key = self._conv_of.get(message_id)
        if key is None:
            return None
        ids = self._conv_ids.get(key, [])
        i = bisect.bisect_left(ids, message_id)
        return (self._convs[key], i) if i < len(ids) and ids[i] == message_id else None

    def _own(self, user_id: str, message_id: int) -> tuple[list[Message], int]:
        """The list and index of ``user_id``'s message; who else is in the conversation
        hears "not your message", a stranger "no such message"."""
        found = self._locate(message_id)
        if found is None:
            raise NoSuchMessage(message_id)
        msgs, i = found
        if msgs[i].from_id != user_id:
            if msgs[i].to_id == user_id:
                raise NotYourMessage(message_id)
            raise NoSuchMessage(message_id)
        return msgs, i

    async def get_message(self, user_id: str, message_id: int) -> Message | None:
        found = self._locate(message_id)
        if found is None:
            return None
        msg = found[0][found[1]]
        return msg if user_id in (msg.from_id, msg.to_id) else None

    async def edit_message(
        self, user_id: str, message_id: int, content: str, at_ms: int
    ) -> Message:
        msgs, i = self._own(user_id, message_id)
        if msgs[i].deleted:
            raise NoSuchMessage(message_id)
        msgs[i] = dataclasses.replace(msgs[i], content=content, edited_at=at_ms)
        self._keep_client_copy(msgs[i])
        return msgs[i]

    def _keep_client_copy(self, msg: Message) -> None:
        """The idempotency map answers resends with the message as it is now (and holds
        no text of a deleted one)."""
        if msg.client_id is not None:
            self._by_client_id[(msg.from_id, msg.client_id)] = msg

    async def delete_message(self, user_id: str, message_id: int) -> tuple[Message, bool]:
        msgs, i = self._own(user_id, message_id)
        if msgs[i].deleted:
            return msgs[i], False
        msgs[i] = dataclasses.replace(
            msgs[i], content="", deleted=True, edited_at=None, reply_to=None
        )
        self._keep_client_copy(msgs[i])
        return msgs[i], True

    async def search_messages(
        self, user_id: str, words: list[str], peer_id: str | None, before: int | None, limit: int
    ) -> tuple[list[Message], bool]:
        """A scan of the caller's conversations, newest first: it costs time in proportion
        to how many messages they hold (docs/performance.md)."""
        peers = [peer_id] if peer_id is not None else list(self._peers.get(user_id, {}))
        found: list[list[Message]] = []
        for peer in peers:
            key = conversation_key(user_id, peer)
            msgs, ids = self._convs.get(key, []), self._conv_ids.get(key, [])
            end = len(msgs) if before is None else bisect.bisect_left(ids, before)
            hits: list[Message] = []
            for msg in reversed(msgs[:end]):
                if not msg.deleted and matches(words, search_words(msg.content)):
                    hits.append(msg)
                    if len(hits) > limit:
                        break
            found.append(hits)
        merged = list(heapq.merge(*found, key=lambda m: -m.id))[: limit + 1]
        return merged[:limit], len(merged) > limit

    async def counts(self) -> dict[str, int]:
        return {"users": len(self._users), "messages": self._messages}

    async def list_sessions(self) -> list[SessionInfo]:
        return [
            SessionInfo(self._users[uid], self._session_created.get(h))
            for h, uid in self._sessions.items()
        ]

    async def revoke_sessions(self, user_id: str) -> int:
        gone = [h for h, uid in self._sessions.items() if uid == user_id]
        for h in gone:
            del self._sessions[h]
            self._session_created.pop(h, None)
        return len(gone)

    async def live_sessions(self, session_hashes: list[bytes]) -> set[bytes]:
        return {h for h in session_hashes if h in self._sessions}

    async def set_last_seen(self, user_id: str, when_ms: int) -> None:
        if user_id in self._users:
            self._last_seen[user_id] = when_ms

    async def last_seen(self, user_ids: list[str]) -> dict[str, int]:
        return {u: self._last_seen[u] for u in user_ids if u in self._last_seen}

    async def mark_read(
        self, user_id: str, peer_id: str, up_to: int, *, private: bool, at_ms: int
    ) -> Marked:
        msgs = self._convs.get(conversation_key(user_id, peer_id))
        current = self._reads.get((user_id, peer_id))
        if not msgs:
            return Marked(current, moved=False)
        target = min(up_to, msgs[-1].id)
        if current is not None and target <= current:
            return Marked(current, moved=False)
        self._reads[(user_id, peer_id)] = target
        if not private:
            self._shown[(user_id, peer_id)] = (target, at_ms)
        return Marked(target, moved=True)

    async def read_states(self, user_id: str, peer_ids: list[str]) -> dict[str, ReadState]:
        out = {}
        for peer in peer_ids:
            mine = self._reads.get((user_id, peer))
            shown = self._shown.get((peer, user_id))
            unread = 0
            if peer != user_id:
                key = conversation_key(user_id, peer)
                ids, msgs = self._conv_ids.get(key, []), self._convs.get(key, [])
                start = bisect.bisect_right(ids, mine) if mine is not None else 0
                unread = sum(1 for m in msgs[start:] if m.from_id == peer and not m.deleted)
            out[peer] = ReadState(
                mine, shown[0] if shown else None, shown[1] if shown else None, unread
            )
        return out

    async def user_infos(self) -> list[UserInfo]:
        sessions: dict[str, int] = {}
        for owner in self._sessions.values():
            sessions[owner] = sessions.get(owner, 0) + 1
        return [
            UserInfo(
                u,
                self._created.get(u.user_id),
                self._last_seen.get(u.user_id),
                sessions.get(u.user_id, 0),
            )
            for u in self._user_list
        ]

    async def delete_user(self, user_id: str) -> int:
        user = self._users.get(user_id)
        if user is None:
            return 0
        await self.revoke_sessions(user_id)
        erased = 0
        for peer in self._peers.pop(user_id, {}):
            self._peers.get(peer, {}).pop(user_id, None)
            key = conversation_key(user_id, peer)
            gone = self._convs.pop(key, [])
            erased += len(gone)
            for msg in gone:
                self._conv_of.pop(msg.id, None)
            self._conv_ids.pop(key, None)
        self._by_client_id = {
            k: m for k, m in self._by_client_id.items() if user_id not in (m.from_id, m.to_id)
        }
        self._messages -= erased
        self._drop_user(user_id)
        self._name_keys = {username_key(u.username) for u in self._user_list}
        self._created.pop(user_id, None)
        self._last_seen.pop(user_id, None)
        for marks in (self._reads, self._shown):
            for key in [k for k in marks if user_id in k]:
                del marks[key]
        self._removed.append(user_id)
        return erased

    async def removed_since(self, cursor: int) -> tuple[list[str], int]:
        return self._removed[cursor:], len(self._removed)

    async def idle_users(self, cutoff_ms: int) -> list[str]:
        return [
            u.user_id
            for u in self._user_list
            if not self._peers.get(u.user_id)
            and self._last_seen.get(u.user_id, self._created.get(u.user_id, 0)) < cutoff_ms
        ]

    async def apply_retention(self, now_ms: int | None = None) -> int:
        if not self.retention_days:
            return 0
        cutoff = (now_ms or time.time_ns() // 1_000_000) - self.retention_days * 86_400_000
        removed = 0
        for key, msgs in self._convs.items():
            keep = [m for m in msgs if m.ts >= cutoff]
            for msg in msgs:
                if msg.ts < cutoff:
                    self._conv_of.pop(msg.id, None)
            removed += len(msgs) - len(keep)
            self._convs[key] = keep
            self._conv_ids[key] = [m.id for m in keep]
        self._by_client_id = {k: m for k, m in self._by_client_id.items() if m.ts >= cutoff}
        self._messages -= removed
        return removed
