"""A client that says goodbye and hangs up at once, while the server still handles its
goodbye: aiohttp cancels the connection's task (handler cancellation), and the socket
must still leave every room, and its user still go offline for the others."""

from __future__ import annotations

import asyncio
from typing import Any

from chat_server.app import NAMESPACE_KEY, SIO_KEY
from tests.conftest import Harness, wait_until


async def test_a_hang_up_during_the_goodbye_leaves_no_socket_in_a_room(hm: Harness) -> None:
    """(The stock build reads packets in a task of their own, which the hang-up does not
    cancel: its goodbye simply finishes.)"""
    srv = await hm.server()
    namespace, sio = srv.app[NAMESPACE_KEY], srv.app[SIO_KEY]
    presence = namespace.presence
    held = asyncio.Event()
    release = asyncio.Event()
    remove = presence.remove

    async def slow_remove(user_id: str, sid: str) -> Any:
        held.set()
        await release.wait()  # the goodbye is still being handled when the TCP close lands
        return await remove(user_id, sid)

    presence.remove = slow_remove  # type: ignore[method-assign]
    bob = await hm.login(srv, "bob")
    amy = await hm.login(srv, "amy")
    await bob.wait_for("user connected")
    sid = next(s for s, c in namespace.connections.items() if c.user_id == amy.user_id)
    try:
        await amy.close()  # the Socket.IO disconnect, then the websocket closes
        await wait_until(held.is_set, "the goodbye being handled")
        # the hang-up cancels the connection's task: the socket leaves its rooms anyway
        await wait_until(
            lambda: all(sid not in room for room in sio.manager.rooms.get("/", {}).values()),
            "amy's socket out of every room",
        )
    finally:
        release.set()
    # and the rest of the goodbye still runs: amy is offline for bob
    (gone,) = await bob.wait_for("user disconnected")
    assert gone == amy.user_id
    assert await presence.count(amy.user_id) == 0
