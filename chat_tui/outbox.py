"""The outbox: messages written but not yet acknowledged, on disk, and the policy that
sends them.

A message enters the outbox (and its file) before it is sent, and leaves it only when the
server has stored it or refused it for good, so nothing typed is lost to a dropped link, a
crash or a quit. Each message keeps its random ``clientId`` across retries, so chat-server
stores it exactly once however often it is sent.

Two chat-tui windows of the same profile share the file: every change is a read, change
and write of the whole file under an exclusive lock (``fcntl.flock``), so neither window
drops what the other queued.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from chat_server import protocol as p
from chat_tui.records import Ack
from chat_tui.session_file import locked, read_json, with_suppressed_unlink, write_private

UNAVAILABLE_RETRY_S = 2.0


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message waiting for the server's answer."""

    client_id: str
    to: str
    content: str
    reply_to: int | None = None  # the id of the message it answers

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"clientId": self.client_id, "to": self.to}
        out["content"] = self.content
        if self.reply_to is not None:
            out["replyTo"] = self.reply_to
        return out

    @staticmethod
    def from_json(data: object) -> OutboxItem | None:
        if not isinstance(data, dict):
            return None
        values = [data.get(k) for k in ("clientId", "to", "content")]
        if not all(isinstance(v, str) for v in values):
            return None
        client_id, to, content = (str(v) for v in values)
        reply_to = data.get("replyTo")
        if not isinstance(reply_to, int) or isinstance(reply_to, bool):
            reply_to = None
        return OutboxItem(client_id, to, content, reply_to)


def retry_delay(ack: Ack) -> float | None:
    """Seconds to wait before sending again when the server refused a message only for
    now: ``rate limited`` (after the ``retryAfter`` it gave) or ``unavailable`` (its store
    is down for a moment). None for an answer that settles the message."""
    if ack.error == p.ERR_RATE_LIMITED:
        ms = ack.retry_after_ms if ack.retry_after_ms is not None else 1000
        return min(max(ms / 1000, 0.05), 60.0)
    if ack.error == p.ERR_UNAVAILABLE:
        return UNAVAILABLE_RETRY_S
    return None


Send = Callable[["OutboxItem"], Awaitable[Ack]]


class Outbox:
    """The outbox file of one session, and this window's queue of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self.items: list[OutboxItem] = []

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return locked(self.lock_path)

    def _read(self) -> list[OutboxItem]:
        data = read_json(self.path)
        items = data if isinstance(data, list) else []
        return [i for i in (OutboxItem.from_json(x) for x in items) if i is not None]

    def _write(self, items: list[OutboxItem]) -> None:
        if items:
            write_private(self.path, [i.to_json() for i in items])
        else:
            with_suppressed_unlink(self.path)

    def load(self) -> list[OutboxItem]:
        """What the file holds (an earlier run's messages, or another window's); it
        becomes this window's queue. Raises session_file.CorruptFile (moved aside)."""
        with self._locked():
            self.items = self._read()
        return list(self.items)

    def add(self, item: OutboxItem) -> None:
        """Queue a message; it is on disk when this returns."""
        with self._locked():
            on_disk = self._read()
            if all(i.client_id != item.client_id for i in on_disk):
                on_disk.append(item)
            self._write(on_disk)
        if all(i.client_id != item.client_id for i in self.items):
            self.items.append(item)

    def remove(self, client_id: str) -> None:
        """The server answered for good: forget the message, here and on disk."""
        self.items = [i for i in self.items if i.client_id != client_id]
        with self._locked():
            on_disk = self._read()
            kept = [i for i in on_disk if i.client_id != client_id]
            if len(kept) != len(on_disk):
                self._write(kept)

    async def drain(
        self,
        send: Send,
        settled: Callable[[OutboxItem, Ack], None],
        held: Callable[[Ack], None],
    ) -> None:
        """Send the queue in order, one message at a time, until it is empty or ``send``
        raises ConnectionError or TimeoutError (the link is down: the rest waits for the
        next connection). A refusal for now keeps the message first in line and sends it
        again after the delay (``held`` is told why); any other answer removes it and is
        passed to ``settled``."""
        while self.items:
            item = self.items[0]
            try:
                ack = await send(item)
            except (ConnectionError, TimeoutError):
                return
            delay = retry_delay(ack)
            if delay is not None:
                held(ack)
                await asyncio.sleep(delay)
                continue
            self.remove(item.client_id)
            settled(item, ack)
