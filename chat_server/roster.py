"""The ``users`` event a connecting user gets: who is listed, which messages, and each
conversation's read state (unread, markers) and each offline user's last seen.

Bounded whatever the store holds, so a user can always log in: at most --roster-limit
entries (yourself, your conversation partners newest first, online users, then the newest
others) and at most --roster-history-bytes of messages across conversations, newest
conversation first, each conversation up to --history-limit messages. A conversation cut
short, or left out, says ``hasMore``: the client pages it in with ``history``. Everyone
else is found with the ``directory`` event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from chat_server import protocol as p
from chat_server.stores import Message, Page, Store, User
from chat_server.stores.base import ReadState

# JSON around the content of one message: keys, ids, time, userIDs, a clientId
MESSAGE_OVERHEAD = 160
PAGE_CHUNK = 64  # conversations read from the store per call


def message_size(msg: Message) -> int:
    """Bytes a message takes in the ``users`` event, at most (cheap for plain text)."""
    content = msg.content
    if content.isascii() and content.isprintable() and '"' not in content and "\\" not in content:
        return len(content) + MESSAGE_OVERHEAD
    return len(orjson.dumps(content)) + MESSAGE_OVERHEAD


def wire_message(msg: Message) -> dict[str, Any]:
    """A stored message as sent on the wire."""
    return p.message_payload(
        msg.id,
        msg.ts,
        msg.content,
        msg.from_id,
        msg.to_id,
        msg.client_id,
        edited_at=msg.edited_at,
        deleted=msg.deleted,
        reply_to=msg.reply_to,
    )


def choose(
    me: User, users: list[User], partners: Iterable[str], online: set[str], limit: int
) -> list[User]:
    """Who is listed: everyone in creation order while that fits the limit; else
    yourself, partners (newest conversation first), online users, the newest others."""
    if len(users) <= limit:
        return users
    by_id = {u.user_id: u for u in users}
    chosen: dict[str, User] = {me.user_id: me}
    for group in (partners, online, (u.user_id for u in reversed(users))):
        for user_id in group:
            if len(chosen) >= limit:
                return list(chosen.values())
            if user_id not in chosen and (user := by_id.get(user_id)) is not None:
                chosen[user_id] = user
    return list(chosen.values())


async def messages_within(
    store: Store, me: str, peers: list[str], per_conversation: int, budget: int
) -> dict[str, Page]:
    """The latest messages of each conversation (``peers``: newest first) that fit the
    byte budget; a conversation cut short or left out gets ``has_more``."""
    out: dict[str, Page] = {}
    left = budget
    for start in range(0, len(peers), PAGE_CHUNK):
        chunk = peers[start : start + PAGE_CHUNK]
        if left <= 0:  # nothing more fits: the rest is only flagged
            out.update((peer, Page([], has_more=True)) for peer in chunk)
            continue
        pages = await store.latest_pages(me, chunk, per_conversation) if per_conversation else {}
        for peer in chunk:
            page = pages.get(peer)
            if page is None:
                out[peer] = Page([], has_more=not per_conversation)
                continue
            kept = 0
            for msg in reversed(page.messages):
                size = message_size(msg)
                if size > left:
                    left = 0
                    break
                left -= size
                kept += 1
            msgs = page.messages[len(page.messages) - kept :] if kept else []
            out[peer] = Page(msgs, has_more=page.has_more or kept < len(page.messages))
    return out


async def build(
    store: Store,
    me: User,
    online: set[str],
    *,
    limit: int,
    per_conversation: int,
    budget: int,
) -> list[dict[str, Any]]:
    """The ``users`` payload for ``me``."""
    conversations = await store.conversations(me.user_id)
    partners = [peer for peer, _ in conversations]
    listed = choose(me, await store.list_users(), partners, online, limit)
    ids = {u.user_id for u in listed}
    listed_partners = [peer for peer in partners if peer in ids]
    pages = await messages_within(store, me.user_id, listed_partners, per_conversation, budget)
    reads = await store.read_states(me.user_id, listed_partners) if listed_partners else {}
    seen = await store.last_seen([u.user_id for u in listed if u.user_id not in online])
    empty, nothing_read = Page([], has_more=False), ReadState(None, None, None, 0)
    out = []
    for u in listed:
        page, read = pages.get(u.user_id, empty), reads.get(u.user_id, nothing_read)
        out.append(
            p.user_payload(
                u.user_id,
                u.username,
                u.user_id in online,
                [wire_message(m) for m in page.messages],
                page.has_more,
                unread=read.unread,
                readUpTo=read.read_up_to,
                peerReadUpTo=read.peer_read_up_to,
                peerReadAt=read.peer_read_at,
                lastSeen=seen.get(u.user_id),
            )
        )
    return out
