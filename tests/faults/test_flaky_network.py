"""A TCP proxy that cuts connections at random moments and delays data, between chat-tui
and chat-server, during a stream of sends: nothing lost, nothing doubled, order kept."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from chat_tui.app import ChatApp
from chat_tui.client import ChatClient
from chat_tui.config import Config
from chat_tui.widgets.composer import Composer
from tests.conftest import Harness, Server, wait_until
from tests.faults.proxy import TcpProxy
from tests.tui.conftest import chat_ready, running, session_file

MESSAGES = 60

pytestmark = pytest.mark.stores("sqlite")


async def test_random_cuts_and_delays_lose_and_double_nothing(
    h: Harness, srv: Server, tmp_path: Path
) -> None:
    rng = random.Random(20261126)
    bob = await h.login(srv, "bob")
    proxy = TcpProxy(srv.port, rng)
    url = await proxy.start()
    app = ChatApp(
        ChatClient(url), session_file(tmp_path), username="amy", config=Config(bell=False)
    )
    try:
        async with running(app):
            await chat_ready(app, "bob")
            sent = [f"m{i:02}" for i in range(MESSAGES)]

            async def cutter() -> None:
                while proxy.cuts < 8:
                    await asyncio.sleep(0.05 + rng.random() * 0.25)
                    # every cut hits an established connection, at a random moment of it
                    # (the client's flag alone may still be true for the one just cut)
                    await wait_until(
                        lambda: app.client.connected and bool(proxy.writers),
                        "a connection to cut",
                        15,
                    )
                    await asyncio.sleep(rng.random() * 0.1)
                    proxy.cut()

            cutting = asyncio.create_task(cutter())
            for text in sent:  # typed one after another, as fast as Enter can be pressed
                app.post_message(Composer.Submitted(text))
                await asyncio.sleep(rng.random() * 0.06)
            await cutting
            await wait_until(lambda: not app.outbox, "the outbox to drain", within=60)
            # the outbox may have drained before the last cut: the client comes back anyway
            await wait_until(lambda: app.client.connected, "a connection after the last cut", 30)
        page = await bob.call("history", {"with": app.state.self_id, "limit": 200})
        stored = [m["content"] for m in page["messages"]]
        assert stored == sent  # every message once, in the order written
        live = [m["content"] for m in bob.of("private message")]
        assert live == sent  # and delivered live once each
        assert proxy.cuts == 8
        assert proxy.accepted >= 9  # the client came back after each of the 8 cuts
    finally:
        await proxy.close()


async def test_a_handshake_that_never_answers_is_given_up_quickly() -> None:
    """A link that dies mid-handshake leaves python-engineio waiting 10 s or more;
    chat-tui gives up after its handshake timeout and retries with backoff."""
    from chat_tui import messages

    held: list[asyncio.StreamWriter] = []

    async def black_hole(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, never answer

    hole = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = hole.sockets[0].getsockname()[1]
    events: list[object] = []
    client = ChatClient(f"http://127.0.0.1:{port}", handshake_timeout=0.5)
    client.login({"username": "x"})
    running_client = asyncio.create_task(client.run(events.append))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await wait_until(
        lambda: any(isinstance(e, messages.Retrying) for e in events), "a retry", within=4
    )
    assert loop.time() - started < 3
    await client.shutdown()
    await running_client
    for w in held:
        w.close()
    hole.close()
    await hole.wait_closed()
