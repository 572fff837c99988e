"""Quitting while the network keeps talking: no server message is applied once the app is
exiting, the connection stops before the screens go, and the app always exits cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from textual import on
from textual.message import Message

from chat_tui import messages as m
from chat_tui.app import ChatApp
from chat_tui.client import ChatClient
from chat_tui.config import Config
from chat_tui.screens.chat import ChatScreen
from tests.conftest import wait_until
from tests.tui.conftest import SIZE, chat_ready, session_file
from tests.tui.fake import BOB, FakeLink, entry, late_messages

LATE = late_messages()


async def flood(app: ChatApp, make: Callable[[], m.ServerMessage]) -> int:
    """Post ``make()`` to the app on every turn of the loop until it takes no more (it is
    closing)."""
    posted = 0
    while posted < 100_000 and app.post_message(make()):
        posted += 1
        await asyncio.sleep(0)
    return posted


class Hold(Message):
    """Keeps the app's message loop busy until its screens are gone."""


class HeldApp(ChatApp):
    """The real app, with one extra message that holds its loop while the pilot's exit
    removes the screens, so that whatever is queued behind it is handled after that."""

    held = False

    @on(Hold)
    async def hold(self) -> None:
        self.held = True
        with contextlib.suppress(AssertionError):
            await wait_until(lambda: not self.screen_stack, "the screens to go", within=5)


@pytest.mark.parametrize("kind", list(LATE))
async def test_server_messages_handled_after_the_screens_are_gone_are_ignored(
    kind: str, tmp_path: Path
) -> None:
    """The pilot's exit removes the screens while the app's message loop still runs; a
    message queued then is handled with no screen on the stack. Before the fix, a late
    'connected' raised ScreenStackError (issue 10)."""
    link = FakeLink()
    app = HeldApp(link, session_file(tmp_path), username="amy", config=Config(bell=False))
    async with app.run_test(size=SIZE):
        await wait_until(lambda: link.post is not None, "the app to start its link")
        link.accept(entry(BOB, "bob"))
        await chat_ready(app, "bob")
        app.post_message(Hold())
        for _ in range(3):
            link.say(LATE[kind]())
        await wait_until(lambda: app.held, "the app's loop to be held")
    # leaving the block exited the app; run_test re-raises anything a handler raised
    assert app._exception is None
    assert not app.screen_stack


@pytest.mark.parametrize("kind", ["connected", "users", "private message", "disconnect"])
async def test_ctrl_q_stops_the_connection_before_the_screens_go(kind: str, tmp_path: Path) -> None:
    link = FakeLink()
    screen_at_shutdown: list[object] = []
    link.on_shutdown = lambda: screen_at_shutdown.append((app.screen_stack or [None])[-1])
    app = ChatApp(link, session_file(tmp_path), username="amy", config=Config(bell=False))
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: link.post is not None, "the app to start its link")
        link.accept(entry(BOB, "bob"))
        await chat_ready(app, "bob")
        flooding = asyncio.create_task(flood(app, LATE[kind]))
        await pilot.press("ctrl+q")
        await flooding
    assert isinstance(screen_at_shutdown[0], ChatScreen)  # the chat screen was still there
    assert app._exception is None


async def quit_while(url: str, tmp_path: Path, status: str) -> ChatApp:
    """Start chat-tui against ``url``, wait for ``status`` in the status line, press Ctrl+Q."""
    client = ChatClient(url, handshake_timeout=30)
    app = ChatApp(client, session_file(tmp_path), username="amy", config=Config(bell=False))
    async with asyncio.timeout(20), app.run_test(size=SIZE) as pilot:
        await wait_until(
            lambda: isinstance(app.screen, ChatScreen) and status in app.status.link.value,
            status,
            within=10,
        )
        await pilot.press("ctrl+q")
        assert client.sio is None  # run() has returned: no connection left behind
    assert app._exception is None
    return app


async def test_quitting_while_connecting_to_a_server_that_never_answers(tmp_path: Path) -> None:
    held: list[asyncio.StreamWriter] = []

    async def black_hole(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, never answer: the handshake hangs

    hole = await asyncio.start_server(black_hole, "127.0.0.1", 0)
    port = hole.sockets[0].getsockname()[1]
    try:
        await quit_while(f"http://127.0.0.1:{port}", tmp_path, "connecting")
    finally:
        for w in held:
            w.close()
        hole.close()
        await hole.wait_closed()


async def test_quitting_while_reconnecting_to_a_refused_port(tmp_path: Path) -> None:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: connections are refused
    await quit_while(f"http://127.0.0.1:{port}", tmp_path, "reconnecting")
