"""Per-user connection cap and browser origins (CORS)."""

from __future__ import annotations

import aiohttp

from tests.conftest import Harness


async def test_a_user_may_hold_at_most_the_configured_connections(h: Harness) -> None:
    srv = await h.server(max_connections_per_user=3)
    alice = await h.login(srv, "alice")
    tabs = [await h.resume(srv, alice.session_id) for _ in range(2)]
    error = await h.peer(srv).expect_refused({"sessionID": alice.session_id})
    assert error == {"message": "too many connections", "data": {"reason": "too many connections"}}
    await tabs[0].close()  # one closes: there is room again
    again = await h.resume(srv, alice.session_id)
    assert again.user_id == alice.user_id
    await h.login(srv, "bob")  # other users are not affected


async def polling_handshake(url: str, origin: str) -> tuple[int, str | None]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/socket.io/?EIO=4&transport=polling", headers={"Origin": origin}) as resp,
    ):
        return resp.status, resp.headers.get("Access-Control-Allow-Origin")


async def test_browser_origins_are_refused_unless_configured(h: Harness) -> None:
    closed = await h.server()
    assert (await polling_handshake(closed.url, "https://evil.example"))[0] == 400
    opened = await h.server(cors_origin="https://chat.example, https://other.example")
    assert await polling_handshake(opened.url, "https://chat.example") == (
        200,
        "https://chat.example",
    )
    assert (await polling_handshake(opened.url, "https://evil.example"))[0] == 400
    anyone = await h.server(cors_origin="*")
    assert (await polling_handshake(anyone.url, "https://whoever.example"))[0] == 200
