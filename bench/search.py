#!/usr/bin/env python3
"""Search over a big SQLite store: how long does a two-word query take?

    .venv/bin/python bench/search.py [--messages 1000000] [--users 1000] [--db PATH]

With --db PATH the database is kept there, and reused (not filled again) when it exists.

Fills an SQLite store (the real schema, through the real migrations, and the real search
index rows: sqlite_search.index_rows) with MESSAGES messages of 4 to 14 words drawn from a
20,000-word vocabulary with Zipf frequencies, between random pairs of USERS users. Then
times SqliteStore.search_messages, warm (each query shape runs 200 times; medians and
p95 in milliseconds):
  two_words_all     two words of one of the user's messages, across all their conversations
  two_words_one     the same, within that one conversation (``with``)
  common_word       the most frequent word alone (the biggest doclist)
  rare_miss         two rare words that match nothing of the user's
  next_page         the second page (``before``) of a common-word search
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import string
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from chat_server.stores import sqlite_lib
from chat_server.stores.sqlite import PAGE_SIZE, SqliteStore
from chat_server.stores.sqlite_schema import migrate
from chat_server.stores.sqlite_search import index_rows, load_key
from chat_server.text import search_words

VOCABULARY = 20_000
CHUNK = 20_000


def vocabulary(rnd: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 10)))] = None
    return list(words)


def fill(path: Path, messages: int, users: int, seed: int) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    vocab = vocabulary(rnd)
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocab))))
    ids = [f"{i:016x}" for i in range(users)]
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # private, as the store's
    db = sqlite_lib.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # as the store makes a new file
    db.execute("PRAGMA journal_mode=WAL")
    migrate(db)
    key = load_key(db)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO users (user_id, username, name_key, created_ms) VALUES (?,?,?,0)",
        ((u, f"user{i}", f"user{i}") for i, u in enumerate(ids)),
    )
    peers: set[tuple[int, int]] = set()
    next_id = 1
    for start in range(0, messages, CHUNK):
        rows = []
        for n in range(start, min(messages, start + CHUNK)):
            fs, ts = rnd.randint(1, users), rnd.randint(1, users)
            peers.update(((fs, ts), (ts, fs)))
            text = " ".join(rnd.choices(vocab, cum_weights=cumulative, k=rnd.randint(4, 14)))
            rows.append((next_id, min(fs, ts), max(fs, ts), fs, text, n))
            next_id += 1
        db.executemany(
            "INSERT INTO messages (id, a, b, from_seq, content, ts) VALUES (?,?,?,?,?,?)", rows
        )
        index_rows(db, ((r[0], r[4], r[1], r[2]) for r in rows), key)
    db.executemany("INSERT OR IGNORE INTO peers VALUES (?, ?)", peers)
    db.execute("COMMIT")
    db.close()
    return ids, vocab


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {
        "median": round(statistics.median(samples), 2),
        "p95": round(samples[int(len(samples) * 0.95) - 1], 2),
    }


async def measure(path: Path, ids: list[str], vocab: list[str], seed: int) -> dict[str, object]:
    rnd = random.Random(seed + 1)
    store = SqliteStore(path)
    await store.open()
    try:
        # queries made of words of a message the user has (so that they hit)
        samples: list[tuple[str, str, list[str]]] = []
        while len(samples) < 200:
            user, peer = rnd.choice(ids), rnd.choice(ids)
            page = await store.history(user, peer, None, 20)
            if page.messages:
                words = search_words(rnd.choice(page.messages).content)
                samples.append((user, peer, rnd.sample(words, min(2, len(words)))))
        turn = iter(range(10**9))

        def pick() -> tuple[str, str, list[str]]:
            return samples[next(turn) % len(samples)]

        async def all_convs() -> object:
            user, _, words = pick()
            return await store.search_messages(user, words, None, None, 20)

        async def one_conv() -> object:
            user, peer, words = pick()
            return await store.search_messages(user, words, peer, None, 20)

        async def common() -> object:
            return await store.search_messages(rnd.choice(ids), [vocab[0]], None, None, 20)

        async def miss() -> object:
            return await store.search_messages(rnd.choice(ids), vocab[-2:], None, None, 20)

        async def next_page() -> object:
            user = rnd.choice(ids)
            first, _ = await store.search_messages(user, [vocab[0]], None, None, 20)
            before = first[-1].id if first else None
            return await store.search_messages(user, [vocab[0]], None, before, 20)

        for fn in (all_convs, one_conv):  # warm the cache
            for _ in range(50):
                await fn()
        hits = [len((await store.search_messages(u, w, None, None, 20))[0]) for u, _, w in samples]
        return {
            "two_words_all": await timed(all_convs, 200),
            "two_words_one": await timed(one_conv, 200),
            "common_word": await timed(common, 200),
            "rare_miss": await timed(miss, 200),
            "next_page": await timed(next_page, 100),
            "mean_hits_two_words": round(statistics.mean(hits), 1),
        }
    finally:
        await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--db", type=Path, default=None, help="keep the database here")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = a.db or Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        if path.exists():  # a database this script filled before (same --seed, --users)
            ids = [f"{i:016x}" for i in range(a.users)]
            vocab = vocabulary(random.Random(a.seed))
        else:
            ids, vocab = fill(path, a.messages, a.users, a.seed)
        fill_s = round(time.perf_counter() - t0, 1)
        size_mb = round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6)
        result = asyncio.run(measure(path, ids, vocab, a.seed))
    print(
        json.dumps(
            {
                "messages": a.messages,
                "users": a.users,
                "fill_s": fill_s,
                "file_mb": size_mb,
                **result,
            }
        )
    )


if __name__ == "__main__":
    main()
