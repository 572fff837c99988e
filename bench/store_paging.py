#!/usr/bin/env python3
"""Store paging with a big database: is the latest page of a conversation still a seek?

    .venv/bin/python bench/store_paging.py [--messages 1000000] [--users 1000] [--db PATH]

Fills an SQLite store (the real schema, through the real migrations) with MESSAGES
messages spread over random pairs of USERS users, plus one heavy conversation of 20,000
messages, then times through the real SqliteStore:
  latest_page   the latest 100 messages of a random conversation
  older_page    a page of 50 before a random id of the heavy conversation
  connect_read  conversations(user) + latest_pages(user, peers, 100) for a random user
                (what a connect reads)
  save          save_message, one at a time (each its own commit)
  save_burst    100 concurrent save_message calls (group commit)
Prints one JSON line of medians in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from chat_server.stores import sqlite_lib
from chat_server.stores.sqlite import PAGE_SIZE, SqliteStore
from chat_server.stores.sqlite_schema import migrate

HEAVY = 20_000


def fill(path: Path, messages: int, users: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    ids = [f"{i:016x}" for i in range(users)]
    db = sqlite_lib.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size={PAGE_SIZE}")  # as the store makes a new file
    db.execute("PRAGMA journal_mode=WAL")
    migrate(db)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO users (user_id, username, name_key, created_ms) VALUES (?,?,?,0)",
        ((u, f"user{i}", f"user{i}") for i, u in enumerate(ids)),
    )
    seq = {u: i + 1 for i, u in enumerate(ids)}  # users.seq, in insertion order
    peers: set[tuple[int, int]] = set()

    def rows() -> Iterator[tuple[int, int, int, str, int, None]]:
        for n in range(messages):
            if n < HEAVY:
                f, t = (ids[0], ids[1]) if n % 2 else (ids[1], ids[0])
            else:
                f, t = rnd.choice(ids), rnd.choice(ids)
            fs, ts = seq[f], seq[t]
            peers.add((fs, ts))
            peers.add((ts, fs))
            yield (min(fs, ts), max(fs, ts), fs, f"message {n} " + "x" * 40, n, None)

    db.executemany(
        "INSERT INTO messages (a, b, from_seq, content, ts, client_id) VALUES (?,?,?,?,?,?)",
        rows(),
    )
    db.executemany("INSERT OR IGNORE INTO peers VALUES (?, ?)", peers)
    db.execute("COMMIT")
    db.close()
    return ids


async def connect_read(store: SqliteStore, user_id: str) -> object:
    peers = [peer for peer, _ in await store.conversations(user_id)]
    return await store.latest_pages(user_id, peers, 100)


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 3)


async def measure(path: Path, ids: list[str], seed: int) -> dict[str, object]:
    rnd = random.Random(seed + 1)
    store = SqliteStore(path)
    await store.open()
    heavy_first = (await store.history(ids[0], ids[1], None, 1)).messages[0].id
    try:
        out: dict[str, object] = {
            "latest_page": await timed(
                lambda: store.history(rnd.choice(ids), rnd.choice(ids), None, 100), 300
            ),
            "older_page": await timed(
                lambda: store.history(
                    ids[0], ids[1], rnd.randint(heavy_first - HEAVY + 60, heavy_first), 50
                ),
                300,
            ),
            "connect_read": await timed(lambda: connect_read(store, rnd.choice(ids)), 50),
            "save": await timed(lambda: store.save_message(ids[2], ids[3], "hello"), 300),
            "save_burst_100": await timed(
                lambda: asyncio.gather(
                    *(store.save_message(ids[2], ids[3], f"b{i}") for i in range(100))
                ),
                30,
            ),
        }
        out["plan"] = " | ".join(await store.explain_page_query())
    finally:
        await store.close()
    return out


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
        ids = fill(path, a.messages, a.users, a.seed)
        fill_s = round(time.perf_counter() - t0, 1)
        result = asyncio.run(measure(path, ids, a.seed))
    print(json.dumps({"messages": a.messages, "users": a.users, "fill_s": fill_s, **result}))


if __name__ == "__main__":
    main()
