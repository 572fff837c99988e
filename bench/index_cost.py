#!/usr/bin/env python3
"""What the search index costs the SQLite store's write path, by how far it may trail.

    .venv/bin/python bench/index_cost.py [--messages 40000] [--batch 11] [--every 1,128]

Writes MESSAGES messages shaped like compare.py's throughput load (``i|seq|time|padding``:
two or three words never seen before in each) between 50 users through
``SqliteStore._write_batch`` in group commits of BATCH, once per value of --every
(``SqliteStore.index_every``: 1 indexes every commit's messages in that commit, 128 trails
by 128 as the store did until 2026-11-27, a huge value indexes nothing while it runs, as
the store now does in a burst of fewer than 16,384), twice each, alternating. Prints
microseconds of CPU per message. The event loop does this work inline, so it is what
each message costs the server's one busy thread.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from chat_server.stores.batching import Send, Write
from chat_server.stores.sqlite import SqliteStore
from chat_server.tokens import hash_session_id


async def one(folder: Path, every: int, messages: int, batch: int) -> float:
    path = folder / f"index-{every}-{time.monotonic_ns()}.db"
    store = SqliteStore(path)
    store.index_every = every
    await store.open()
    try:
        users = [f"u{i}" for i in range(50)]
        for u in users:
            await store.create_user(u, u, hash_session_id(u))
        rnd = random.Random(1)
        items: list[Write] = []
        for k in range(messages):
            a = rnd.randrange(50)
            b = (a + 1 + rnd.randrange(49)) % 50
            content = f"{a}|{k}|{time.time() * 1000:.3f}|" + "x" * 40
            items.append(Send(users[a], users[b], content, None))
        started = time.process_time()
        for i in range(0, messages, batch):
            store._write_batch(items[i : i + batch])
        return (time.process_time() - started) / messages * 1e6
    finally:
        store.unindexed = 0  # not timed: the close would catch up
        await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--messages", type=int, default=40_000)
    ap.add_argument("--batch", type=int, default=11, help="messages per group commit")
    ap.add_argument("--every", default="1,128,1000000000", help="index_every values")
    a = ap.parse_args()
    values = [int(x) for x in a.every.split(",")]
    with tempfile.TemporaryDirectory(prefix="index-cost-") as tmp:
        for _ in range(2):
            for every in values:
                us = await one(Path(tmp), every, a.messages, a.batch)
                print(f"index_every={every}: {us:.1f} us of CPU per message", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
