"""The roster is bounded: chat-tui finds everyone else through the server's directory,
and follows users the server deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_server.app import NAMESPACE_KEY
from chat_server.upkeep import prune_idle
from chat_tui.records import Delivery
from chat_tui.screens.switcher import SwitcherScreen
from tests.conftest import Harness, wait_until
from tests.tui.conftest import (
    MakeApp,
    chat_ready,
    delivered,
    roster_rows,
    running,
    session_file,
)

# TUI tests run on the default store only (the server suite covers every store)
pytestmark = pytest.mark.stores("sqlite")


async def test_ctrl_k_finds_people_beyond_the_roster_in_the_directory(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server(roster_limit=3)
    zed = await h.login(srv, "zed")  # the oldest user, offline, no conversation
    await zed.close()
    for name in ("ann", "ben", "cid"):
        await (await h.login(srv, name)).close()
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "amy", "cid", "ben")  # you, then the newest others
        assert len(roster_rows(app)) == 3 and zed.user_id not in app.state.contacts
        zed_id = zed.user_id
        await pilot.press("ctrl+k")
        assert isinstance(app.screen, SwitcherScreen)
        await pilot.press(*"ze")
        await wait_until(lambda: zed_id in app.screen.found, "zed found in the directory")  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_until(lambda: app.state.open_id == zed_id, "zed's conversation open")
        await pilot.press(*"hello zed", "enter")
        await wait_until(lambda: delivered(app, zed_id) == [("hello zed", Delivery.SENT)], "sent")
        assert any("zed" in row for row in roster_rows(app))


async def test_a_deleted_user_leaves_the_roster(
    h: Harness, make_app: MakeApp, tmp_path: Path
) -> None:
    srv = await h.server()
    ghost = await h.login(srv, "ghost")
    await ghost.close()
    app = make_app(srv.url, session_file(tmp_path), username="amy")
    async with running(app):
        await chat_ready(app, "ghost")
        assert await prune_idle(srv.app[NAMESPACE_KEY], 10**15) == 1  # ghost never wrote
        await wait_until(
            lambda: not any("ghost" in row for row in roster_rows(app)), "ghost gone", 10
        )
        assert ghost.user_id not in app.state.contacts
