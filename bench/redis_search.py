#!/usr/bin/env python3
"""Search on the Redis store: what a query costs a user with many messages.

    .venv/bin/python bench/redis_search.py [--messages 20000]

Starts a private redis-server (no persistence), stores MESSAGES messages of 10 words (a
5,000-word vocabulary) from one user to 19 others through the real RedisStore, then times
search_messages for that user (30 queries each, median ms). Search scans the words hash
of each of the caller's conversations in a Lua script (redis_messages.py): the time grows
with the caller's messages, never with the database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import statistics
import subprocess
import time

from chat_server.stores import make_store
from chat_server.tokens import hash_session_id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def measure(port: int, messages: int) -> None:
    await asyncio.sleep(0.5)  # the server starts
    store = make_store(f"redis://127.0.0.1:{port}/0")
    await store.open()
    users = [f"u{i}" for i in range(20)]
    for u in users:
        await store.create_user(u, u, hash_session_id(u))
    rnd = random.Random(1)
    vocab = ["".join(rnd.choices("abcdefghijklmnop", k=rnd.randint(3, 8))) for _ in range(5000)]
    for _ in range(0, messages, 200):
        await asyncio.gather(
            *(
                store.save_message("u0", rnd.choice(users[1:]), " ".join(rnd.choices(vocab, k=10)))
                for _ in range(200)
            )
        )
    for query, name in ((vocab[:2], "two words"), ([vocab[0]], "one word")):
        samples = []
        for _ in range(30):
            t0 = time.perf_counter()
            await store.search_messages("u0", query, None, None, 20)
            samples.append((time.perf_counter() - t0) * 1000)
        print(f"{messages} messages, {name}: median {statistics.median(samples):.1f} ms")
    await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000)
    messages = ap.parse_args().messages
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        asyncio.run(measure(port, messages))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
