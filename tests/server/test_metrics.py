"""--metrics: Prometheus metrics on /metrics, scraped as Prometheus would (issue 16)."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from chat_server import protocol as p
from tests.conftest import Harness, Server


async def scrape(srv: Server) -> tuple[int, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """The status of GET /metrics, and every sample: (name, labels) -> value."""
    async with aiohttp.ClientSession() as http, http.get(f"{srv.url}/metrics") as resp:
        status, text = resp.status, await resp.text()
    if status != 200:
        return status, {}
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return status, samples


async def test_metrics_count_messages_refusals_and_latency(h: Harness) -> None:
    srv = await h.server(metrics=True, rate_per_second=0.01, rate_burst=4)
    alice, bob = await h.login(srv, "alice"), await h.login(srv, "bob")
    for n in range(3):
        ack = await alice.call(p.PRIVATE_MESSAGE, {"content": f"m{n}", "to": bob.user_id})
        assert "message" in ack
    refused = await alice.call(p.PRIVATE_MESSAGE, {"content": "x", "to": "nobody"})
    assert refused["error"] == p.ERR_UNKNOWN_RECIPIENT
    limited = await alice.call(p.PRIVATE_MESSAGE, {"content": "y", "to": bob.user_id})
    assert limited["error"] == p.ERR_RATE_LIMITED  # the burst of 4 is spent
    await bob.call('no such event {with} "odd" name', {})  # a name a client chose
    status, m = await scrape(srv)
    assert status == 200
    assert m[("chat_messages_stored_total", ())] == 3
    assert m[("chat_messages_delivered_total", ())] == 6  # bob, and alice's other sockets
    refusals = {labels: v for (name, labels), v in m.items() if name == "chat_events_refused_total"}
    assert refusals == {
        (("event", "private message"), ("reason", "unknown recipient")): 1,
        (("event", "private message"), ("reason", "rate limited")): 1,
        (("event", "unknown"), ("reason", "unknown event")): 1,
    }
    assert m[("chat_message_path_seconds_count", ())] == 5  # every private message
    assert m[("chat_store_save_seconds_count", ())] == 3  # every save
    assert m[("chat_store_save_seconds_sum", ())] > 0
    assert m[("chat_connections", ())] == 2
    assert m[("chat_online_users", ())] == 2
    # no user's data in the figures
    text = "".join(str(k) for k in m)
    assert alice.user_id not in text and bob.user_id not in text
    await bob.close()
    _, m = await scrape(srv)
    assert m[("chat_connections", ())] == 1 and m[("chat_online_users", ())] == 1


async def test_no_metrics_unless_asked(h: Harness, srv: Server) -> None:
    status, _ = await scrape(srv)
    assert status == 404
