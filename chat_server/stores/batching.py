"""Group commit: many concurrent writes, one round trip per batch, answers in call order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from chat_server.stores.base import Marked, Saved, StoreUnavailable


@dataclass(frozen=True, slots=True)
class Send:
    """A message to store (save_message)."""

    from_id: str
    to_id: str
    content: str
    client_id: str | None
    reply_to: int | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """A read marker to move forward (mark_read)."""

    user_id: str
    peer_id: str
    up_to: int
    private: bool
    at_ms: int


Write = Send | Mark
Result = Saved | Marked


A = TypeVar("A")
R = TypeVar("R")

# A batch writer returns one result per item, in order: a value, or the exception that
# item alone failed with. Raising fails the whole batch.
WriteBatch = Callable[[list[A]], Awaitable[list[R | Exception]]]

# A busy batcher (its last batch ended less than BUSY seconds ago) lets a batch wait
# ``linger`` more loop passes for writes to join it. The SQLite store commits inline, so
# without it a commit held what one loop pass brought (about 12 messages under
# compare.py's throughput load; about 48 with 3 passes, and a commit's cost per message
# falls with its size: +21% messages/s, -17% CPU, docs/performance.md). An idle
# batcher writes at once.
BUSY = 0.002


class Batcher(Generic[A, R]):
    """Queues items and writes them in batches, one batch at a time.

    While a batch is being written, new items wait for the next one, so under load each
    round trip (or commit) carries many writes. Callers are answered in the order they
    called, and never before their batch's write has returned.
    """

    def __init__(self, write: WriteBatch[A, R], max_batch: int = 512, linger: int = 0) -> None:
        self._write = write
        self._max = max_batch
        self._linger = linger
        self.busy = BUSY
        self._pending: list[tuple[A, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended = -1.0  # loop time the last batch ended

    async def submit(self, item: A) -> R:
        loop = self._loop
        if loop is None:  # looked up once: get_running_loop() makes a getpid() system call
            loop = self._loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, fut))
        if self._task is None:
            self._task = asyncio.create_task(self._flush())
        return await fut

    async def drain(self) -> None:
        """Wait until everything submitted so far is written."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _flush(self) -> None:
        loop = self._loop
        try:
            if self._linger and loop is not None and loop.time() - self._ended < self.busy:
                for _ in range(self._linger):
                    if len(self._pending) >= self._max:
                        break
                    await asyncio.sleep(0)  # one loop pass
            while self._pending:
                batch = self._pending[: self._max]
                del self._pending[: self._max]
                try:
                    results = await self._write([item for item, _ in batch])
                except Exception as exc:
                    err = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(str(exc))
                    results = [err] * len(batch)
                for (_, fut), result in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if isinstance(result, Exception):
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
        finally:
            self._task = None
            if loop is not None:
                self._ended = loop.time()
