"""Flood control: per-user token buckets, and a flooder cannot slow anyone else down."""

from __future__ import annotations

import asyncio
import time

import pytest

from chat_server.limits import TokenBuckets
from tests.conftest import Harness, Peer, wait_until

pytestmark = pytest.mark.stores(
    "memory"
)  # flood control lives in each process, not in the store: once


def test_token_bucket_burst_then_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(burst=3, rate=2.0, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == 0.5  # empty: the next token in 1/rate seconds
    assert buckets.take("b") == 0.0  # per key
    now[0] += 0.25
    assert buckets.take("a") == 0.25  # half a token so far
    now[0] += 0.25
    assert buckets.take("a") == 0.0
    now[0] += 100  # never more than the burst
    assert [buckets.take("a") for _ in range(4)][-1] > 0
    now[0] += 100
    buckets.prune()  # full buckets are forgotten; nothing else
    assert len(buckets) == 0
    assert TokenBuckets(burst=1, rate=0).take("a") == 0.0  # rate 0: no limit


async def test_over_the_limit_an_acked_send_is_refused_with_retry_after(h: Harness) -> None:
    srv = await h.server(rate_burst=3, rate_per_second=2)
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    for i in range(3):
        ack = await alice.call("private message", {"content": f"m{i}", "to": bob.user_id})
        assert "message" in ack, ack
    refused = await alice.call("private message", {"content": "m3", "to": bob.user_id})
    assert refused["error"] == "rate limited"
    assert 0 < refused["retryAfter"] <= 500, refused  # ms until the next token
    page = await bob.call("history", {"with": alice.user_id})
    assert [m["content"] for m in page["messages"]] == ["m0", "m1", "m2"]  # nothing stored
    # the other kind of event has its own bucket, and other users are not affected
    assert "messages" in await alice.call("history", {"with": bob.user_id})
    assert "message" in await bob.call("private message", {"content": "hi", "to": alice.user_id})

    # a second tab of alice shares her bucket: the limit is per user
    tab = await h.resume(srv, alice.session_id)
    again = await tab.call("private message", {"content": "m3", "to": bob.user_id})
    assert again["error"] == "rate limited"

    # after retryAfter the same send goes through (a client retries as told)
    deadline = time.monotonic() + 5
    while "error" in again:
        assert again["error"] == "rate limited" and time.monotonic() < deadline
        await asyncio.sleep(again["retryAfter"] / 1000)  # what the server said to wait
        again = await tab.call("private message", {"content": "m3", "to": bob.user_id})
    await bob.wait_for("private message", 4)
    assert [m["content"] for m in bob.of("private message")] == ["m0", "m1", "m2", "m3"]


async def test_over_the_limit_an_unacked_send_waits_and_nothing_is_lost(h: Harness) -> None:
    """The tutorial's clients ask for no ack: nobody to tell, so their sends are held
    back to the rate instead of being dropped."""
    srv = await h.server(rate_burst=2, rate_per_second=20)
    alice = await h.login(srv, "alice")
    bob = await h.login(srv, "bob")
    start = time.monotonic()
    for i in range(12):
        await alice.send(bob.user_id, f"u{i}")
    await bob.wait_for("private message", 12)
    took = time.monotonic() - start
    assert [m["content"] for m in bob.of("private message")] == [f"u{i}" for i in range(12)]
    assert took >= (12 - 2) / 20 * 0.9, took  # held to the rate, not refused
    page = await bob.call("history", {"with": alice.user_id})
    assert len(page["messages"]) == 12


async def test_a_flooder_does_not_hold_a_quiet_client_back(hs: Harness) -> None:
    """One user floods (every connection it may open, no acks, as fast as it can) while a
    quiet pair talks. The quiet messages are never queued behind the flood: the pair's
    whole talk is done while most of the flood is still held back at the flooder's rate.

    Counted, not timed, so it holds on a slow or busy machine: were the quiet messages
    queued behind the flood, each would wait for the backlog to drain (about 30 s here,
    past the test's wait); were the flood not held back, far more of it than its rate
    allows would be delivered meanwhile. The latency figure is a benchmark:
    bench/flood.py.
    """
    h = hs
    burst, rate = 20, 20
    srv = await h.server(rate_burst=burst, rate_per_second=rate, max_connections_per_user=4)
    victim = await h.login(srv, "victim")
    mallory = await h.login(srv, "mallory")
    tabs = [mallory] + [await h.resume(srv, mallory.session_id) for _ in range(3)]
    carol = await h.login(srv, "carol")
    dave = await h.login(srv, "dave")
    flood_sent = 0

    async def flood(tab: Peer) -> None:
        nonlocal flood_sent
        for i in range(150):
            await tab.send(victim.user_id, f"flood {i} " + "x" * 2000)
            flood_sent += 1

    started = time.monotonic()
    flooders = [asyncio.create_task(flood(t)) for t in tabs]
    try:
        await wait_until(lambda: flood_sent == 600, "the whole flood sent")
        quiet = [f"quiet {i}" for i in range(50)]
        for content in quiet:  # carol waits for each delivery, like a person typing
            ack = await carol.call("private message", {"content": content, "to": dave.user_id})
            while ack.get("error") == "rate limited":  # her own rate: retry as told
                await asyncio.sleep(ack["retryAfter"] / 1000)
                ack = await carol.call("private message", {"content": content, "to": dave.user_id})
            assert "message" in ack, ack
            await wait_until(
                lambda c=content: c in [m["content"] for m in dave.of("private message")][-1:],
                f"dave gets {content}",
            )
        flood_delivered = len(victim.of("private message"))
        elapsed = time.monotonic() - started
    finally:
        for task in flooders:
            task.cancel()
        # the server would read the flooders' backlog (and their goodbyes) at their rate
        await h.stop(srv)
    assert [m["content"] for m in dave.of("private message")] == quiet
    # the quiet talk was over while most of the flood still waited its turn
    assert flood_delivered < flood_sent / 2, (flood_delivered, flood_sent)
    # and the flood went through at the flooder's rate: its burst (one more for the
    # buckets' timing) plus the rate over however long this took on this machine
    assert flood_delivered <= 2 * burst + rate * elapsed, (flood_delivered, elapsed)
