"""Messages from one connection are stored and delivered in the order they were sent,
even when the store is slow and takes a different time for every call."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from chat_server.stores import Saved, Store, make_store
from tests.conftest import Harness, barrier, wait_until


class SlowStore:
    """A real store whose save_message takes a random 0-4 ms more, so concurrent calls
    would finish out of order if the server let them run concurrently."""

    def __init__(self, inner: Store, seed: int) -> None:
        self._inner = inner
        self._random = random.Random(seed)
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def save_message(
        self,
        from_id: str,
        to_id: str,
        content: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Saved:
        await asyncio.sleep(self._random.random() * 0.004)
        return await self._inner.save_message(from_id, to_id, content, client_id, reply_to)


async def test_per_connection_order_survives_a_slow_store(h: Harness) -> None:
    store: Any = SlowStore(make_store(h.store_url()), seed=7)
    srv = await h.server(store=store)
    bob = await h.login(srv, "bob")
    senders = [await h.login(srv, f"s{i}") for i in range(3)]
    per_sender = 40

    async def burst(i: int) -> None:
        for k in range(per_sender):
            await senders[i].send(bob.user_id, f"{i}:{k}")

    await asyncio.gather(*(burst(i) for i in range(3)))
    live = await bob.wait_for("private message", 3 * per_sender, within=20)
    for i, s in enumerate(senders):
        mine = [m["content"] for m in live if m["from"] == s.user_id]
        assert mine == [f"{i}:{k}" for k in range(per_sender)], "live order"
        page = await bob.call("history", {"with": s.user_id, "limit": 200})
        stored = [m["content"] for m in page["messages"]]
        assert stored == [f"{i}:{k}" for k in range(per_sender)], "stored order"
        ids = [m["id"] for m in page["messages"]]
        assert ids == sorted(ids)


class GatedStore(SlowStore):
    """A real store whose save_message waits until the test opens the gate."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner, seed=0)
        self.gate = asyncio.Event()
        self.waiting = 0

    async def save_message(
        self,
        from_id: str,
        to_id: str,
        content: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Saved:
        self.waiting += 1
        await self.gate.wait()
        return await self._inner.save_message(from_id, to_id, content, client_id, reply_to)


async def test_nothing_is_delivered_or_acked_before_the_store_has_it(h: Harness) -> None:
    store: Any = GatedStore(make_store(h.store_url()))
    srv = await h.server(store=store)
    alice = await h.login(srv, "alice")
    alice2 = await h.resume(srv, alice.session_id)
    bob = await h.login(srv, "bob")
    ack = asyncio.create_task(alice.call("private message", {"content": "held", "to": bob.user_id}))
    await wait_until(lambda: store.waiting == 1, "the save to start")
    await barrier(bob)
    await barrier(alice2)
    assert bob.of("private message") == [] and alice2.of("private message") == []
    assert not ack.done()
    store.gate.set()
    assert (await ack)["message"]["content"] == "held"
    await bob.wait_for("private message")
    await alice2.wait_for("private message")
