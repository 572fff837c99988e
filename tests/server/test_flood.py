"""Flood control: per-user token buckets, and a flooder cannot slow anyone else down."""

from __future__ import annotations

import asyncio
import statistics
import time

from chat_server.limits import TokenBuckets
from tests.conftest import Harness, Peer, wait_until


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


async def test_a_flooder_does_not_slow_a_quiet_client_down(hs: Harness) -> None:
    """One user floods (every connection it may open, no acks, as fast as it can) while
    a quiet pair talks: the quiet messages' delivery p99 stays under 50 ms. (The flood's
    backlog drains at the rate, so it is sized to outlast the quiet talk, no more.)"""
    h = hs
    srv = await h.server(rate_burst=100, rate_per_second=200, max_connections_per_user=4)
    victim = await h.login(srv, "victim")
    mallory = await h.login(srv, "mallory")
    tabs = [mallory] + [await h.resume(srv, mallory.session_id) for _ in range(3)]
    carol = await h.login(srv, "carol")
    dave = await h.login(srv, "dave")
    flood_sent = 0

    async def flood(tab: Peer) -> None:
        nonlocal flood_sent
        for i in range(120):
            await tab.send(victim.user_id, f"flood {i} " + "x" * 2000)
            flood_sent += 1

    flooders = [asyncio.create_task(flood(t)) for t in tabs]
    await wait_until(lambda: flood_sent >= 400, "the flood under way")
    received: dict[str, float] = {}
    dave.sio.on("private message", lambda m: received.setdefault(m["content"], time.monotonic()))
    latencies = []
    try:
        for i in range(100):  # carol waits for each delivery, like a person typing
            content = f"quiet {i}"
            t0 = time.monotonic()
            ack = await carol.call("private message", {"content": content, "to": dave.user_id})
            assert "message" in ack, ack
            await wait_until(lambda c=content: c in received, f"dave gets {content}")
            latencies.append(received[content] - t0)
    finally:
        for task in flooders:
            task.cancel()
    p99 = statistics.quantiles(latencies, n=100)[98]
    assert p99 < 0.050, f"quiet p99 {p99 * 1000:.1f} ms under a flood"
    # and the flood was held back, not served at full speed (the victim is still served)
    assert len(victim.of("private message")) < flood_sent
