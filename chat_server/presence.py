"""Who is online: which Socket.IO sids each user has open right now.

Presence is separate from the store on purpose: it is rebuilt from live connections, so
a restart starts everyone offline, and a cross-process version (for the Redis scale-out)
can replace LocalPresence behind the same interface.
"""

from __future__ import annotations

from typing import Protocol


class Presence(Protocol):
    """Tracks the open sockets of every user."""

    async def add(self, user_id: str, sid: str) -> bool:
        """Record a socket; True when it is the user's first one (they came online)."""

    async def remove(self, user_id: str, sid: str) -> bool:
        """Forget a socket; True when it was the user's last one (they went offline)."""

    async def online(self) -> set[str]:
        """The userIDs with at least one socket."""

    async def socket_count(self) -> int:
        """How many sockets are open in all."""


class LocalPresence:
    """Presence for a single server process."""

    def __init__(self) -> None:
        self._sids: dict[str, set[str]] = {}
        self._count = 0

    async def add(self, user_id: str, sid: str) -> bool:
        sids = self._sids.setdefault(user_id, set())
        first = not sids
        if sid not in sids:
            sids.add(sid)
            self._count += 1
        return first

    async def remove(self, user_id: str, sid: str) -> bool:
        sids = self._sids.get(user_id)
        if not sids or sid not in sids:
            return False
        sids.discard(sid)
        self._count -= 1
        if sids:
            return False
        del self._sids[user_id]
        return True

    async def online(self) -> set[str]:
        return set(self._sids)

    async def socket_count(self) -> int:
        return self._count
