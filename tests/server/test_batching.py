"""The group commit's batcher (stores/batching.py): a busy one lets a batch wait a few
loop passes for more writes; an idle one writes at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chat_server.stores.batching import Batcher
from chat_server.stores.sqlite import LINGER, SqliteStore


def recording(linger: int, busy: float) -> tuple[Batcher[int, int], list[list[int]]]:
    batches: list[list[int]] = []

    async def write(items: list[int]) -> list[int | Exception]:
        batches.append(list(items))
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(write, linger=linger)
    batcher.busy = busy
    return batcher, batches


async def burst(batcher: Batcher[int, int]) -> list[int]:
    """Writes 2, 3 and 4 submitted one loop pass apart."""

    async def later(passes: int, item: int) -> int:
        for _ in range(passes):
            await asyncio.sleep(0)
        return await batcher.submit(item)

    return await asyncio.gather(batcher.submit(2), later(1, 3), later(2, 4))


async def test_a_busy_batcher_lets_a_batch_wait_for_writes_a_few_passes_behind() -> None:
    batcher, batches = recording(linger=3, busy=60.0)  # every batch counts as busy
    assert await batcher.submit(1) == 10  # the first: nothing ended before it
    assert await burst(batcher) == [20, 30, 40]
    assert batches == [[1], [2, 3, 4]]


async def test_an_idle_batcher_writes_at_once() -> None:
    for linger, busy in ((3, 0.0), (0, 60.0)):  # never busy; or no linger
        batcher, batches = recording(linger, busy)
        assert await batcher.submit(1) == 10
        assert await burst(batcher) == [20, 30, 40]
        assert batches[:2] == [[1], [2]], (linger, busy)


def test_the_sqlite_store_lingers(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "chat.db")
    assert store._batcher._linger == LINGER > 0
