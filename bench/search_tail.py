#!/usr/bin/env python3
"""What a search costs when many messages are past the SQLite index's mark.

    .venv/bin/python bench/search_tail.py [--tails 4096,16384,32768] [--queries 20]

A burst leaves up to ``SqliteStore.index_every`` messages (16,384) past the search index's
mark until the store is idle (sqlite_search.py); a search matches those by their text.
For each tail size, messages of 10 words from a 5,000-word vocabulary are stored without
indexing, between 2 users (the worst case: every message is the caller's) and between 50;
then the median and the slowest of QUERIES two-word searches through
``SqliteStore.search_messages``, across the caller's conversations and in one of them;
with ASCII texts, with " 👍" at the end of each, and with " café" (texts beyond ASCII
take another sift, sqlite_search.unindexed_hits; an accent, its slow path).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from chat_server.stores.batching import Send, Write
from chat_server.stores.sqlite import SqliteStore
from chat_server.text import search_words
from chat_server.tokens import hash_session_id

WORDS = [f"w{i}" for i in range(5000)]


async def one(path: Path, tail: int, users: int, queries: int, end: str) -> str:
    store = SqliteStore(path)
    store.index_every, store.index_idle = 10**9, None  # nothing indexed
    await store.open()
    try:
        names = [f"u{i}" for i in range(users)]
        for name in names:
            await store.create_user(name, name, hash_session_id(name))
        rnd = random.Random(1)
        items: list[Write] = []
        for _ in range(tail):
            a = rnd.randrange(users)
            b = (a + 1 + rnd.randrange(users - 1)) % users
            items.append(Send(names[a], names[b], " ".join(rnd.choices(WORDS, k=10)) + end, None))
        for i in range(0, tail, 100):
            store._write_batch(items[i : i + 100])
        out = []
        for peer in (None, "u1"):
            took = []
            for _ in range(queries):
                item = items[rnd.randrange(tail)]
                assert isinstance(item, Send)
                words = search_words(item.content)[:2]
                started = time.perf_counter()
                await store.search_messages("u0", words, peer, None, 20)
                took.append((time.perf_counter() - started) * 1000)
            scope = "in one conversation" if peer else "across conversations"
            out.append(f"{scope} {statistics.median(took):.2f} ms (slowest {max(took):.2f})")
        return "; ".join(out)
    finally:
        store.unindexed = 0  # not timed: the close would index them all
        await store.close()


async def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tails", default="4096,16384,32768")
    ap.add_argument("--queries", type=int, default=20)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="search-tail-") as tmp:
        for end in ("", " \N{THUMBS UP SIGN}", " caf\u00e9"):
            for tail in (int(t) for t in a.tails.split(",")):
                for users in (2, 50):
                    path = Path(tmp) / f"tail-{tail}-{users}-{len(end)}.db"
                    result = await one(path, tail, users, a.queries, end)
                    texts = {"": "ASCII", " caf\u00e9": "with an accent"}.get(end, "with an emoji")
                    print(f"{tail} past the mark, {users} users, {texts}: {result}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
