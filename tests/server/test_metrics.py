"""--metrics: Prometheus metrics on /metrics, scraped as Prometheus would (issue 16)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from chat_server import metrics as metrics_module
from chat_server import protocol as p
from chat_server.transport.emit import PROBE_NAMESPACE
from tests.conftest import Harness, RedisServer, Server


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


async def wait_for_sample(
    srv: Server, name: str, at_least: float, within: float = 15
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Scrape until sample ``name`` reaches ``at_least``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        _, m = await scrape(srv)
        if m.get((name, ()), 0) >= at_least:
            return m
        assert asyncio.get_running_loop().time() < deadline, f"{name} stayed below {at_least}"
        await asyncio.sleep(0.1)  # polling a condition, with the deadline above


async def test_bus_lag_is_measured_per_process(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers on one Redis bus: each observes the probes it published, crossing the
    bus to its own listener, and none of the other's; nothing is lost."""
    monkeypatch.setattr(metrics_module, "PROBE_EVERY_S", 0.05)
    redis_server.flush()
    h = Harness(tmp_path, "redis", redis_server)
    try:
        one, two = await h.server(metrics=True), await h.server(metrics=True)
        alice, bob = await h.login(one, "alice"), await h.login(two, "bob")
        for srv in (one, two):
            m = await wait_for_sample(srv, "chat_bus_lag_seconds_count", 5)
            assert m[("chat_bus_probes_lost_total", ())] == 0
            assert 0 < m[("chat_bus_lag_seconds_sum", ())] < 5
        # the bus still carries events both ways
        ack = await alice.call(p.PRIVATE_MESSAGE, {"content": "hi", "to": bob.user_id})
        assert "message" in ack
        (got,) = await bob.wait_for(p.PRIVATE_MESSAGE)
        assert got["content"] == "hi"
    finally:
        await h.close()


async def test_no_bus_no_bus_figures(hm: Harness) -> None:
    srv = await hm.server(metrics=True)
    _, m = await scrape(srv)
    assert not [k for k in m if k[0].startswith("chat_bus")]


async def test_probes_lost_when_redis_goes_down(
    own_redis: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the bus has worked, a probe that does not come back counts as lost; the
    probe loop goes on, and the figures are still served."""
    monkeypatch.setattr(metrics_module, "PROBE_EVERY_S", 0.05)
    monkeypatch.setattr(metrics_module, "PROBE_LOST_S", 0.3)
    h = Harness(tmp_path, "redis", own_redis)
    try:
        srv = await h.server(metrics=True)
        await h.login(srv, "alice")
        m = await wait_for_sample(srv, "chat_bus_lag_seconds_count", 1)
        assert m[("chat_bus_probes_lost_total", ())] == 0
        own_redis.stop()
        await wait_for_sample(srv, "chat_bus_probes_lost_total", 3)
    finally:
        await h.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_no_client_joins_the_probe_namespace(
    redis_server: RedisServer, tmp_path: Path, transport: str
) -> None:
    """The bus probes' namespace takes no client, on either transport: an emit to it
    reaches only the probe (emit.PROBE_NAMESPACE)."""
    redis_server.flush()
    h = Harness(tmp_path, "redis", redis_server)
    try:
        srv = await h.server(metrics=True)
        client = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                srv.url, namespaces=[PROBE_NAMESPACE], transports=[transport], wait_timeout=5
            )
        await client.disconnect()
    finally:
        await h.close()
