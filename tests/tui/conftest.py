"""Fixtures for driving chat-tui with Textual's pilot against a real chat-server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.notifications import Notification
from textual.pilot import Pilot

from chat_tui import messages as m
from chat_tui.app import ChatApp
from chat_tui.client import ChatClient
from chat_tui.config import Config
from chat_tui.records import Delivery, RosterEntry
from chat_tui.screens.chat import ChatScreen
from chat_tui.screens.login import LoginScreen
from chat_tui.session_file import SessionFile
from chat_tui.widgets.conversation import ConversationView
from chat_tui.widgets.status_bar import StatusBar
from chat_tui.widgets.user_list import UserList
from tests.conftest import Harness, wait_until
from tests.tui.fake import FakeLink

SIZE = (120, 36)


class RecordingApp(ChatApp):
    """The real app; it only counts the bells it rings, so tests can see them."""

    bells = 0

    def bell(self) -> None:
        self.bells += 1


def session_file(tmp_path: Path, name: str = "me") -> SessionFile:
    return SessionFile(tmp_path / "tui" / f"{name}.json")


@asynccontextmanager
async def running(app: ChatApp) -> AsyncIterator[Pilot[None]]:
    async with app.run_test(size=SIZE) as pilot:
        yield pilot


@asynccontextmanager
async def fake_chat(
    sf: SessionFile,
    *others: RosterEntry,
    username: str | None = "amy",
    size: tuple[int, int] = SIZE,
    max_length: int | None = None,
    rows: int | None = None,
    config: Config | None = None,
    theme: str | None = None,
) -> AsyncIterator[tuple[ChatApp, FakeLink, Pilot[None]]]:
    """chat-tui on a FakeLink (the test speaks for the server), connected, with
    ``others`` in the roster and the chat screen up (once it lists ``rows`` users: by
    default all of them and you)."""
    link = FakeLink()
    app = ChatApp(link, sf, username=username, config=config or Config(bell=False), theme=theme)
    async with app.run_test(size=size) as pilot:
        await wait_until(lambda: link.post is not None, "the link")
        link.accept(*others, max_length=max_length)
        await wait_until(
            lambda: on_chat(app) and len(roster_rows(app)) == (rows or len(others) + 1),
            "the chat screen",
        )
        yield app, link, pilot


def roster_rows(app: ChatApp) -> list[str]:
    """The user list as the screen shows it, one string per row."""
    users = app.screen.query_one(UserList)
    return [str(users.get_option_at_index(i).prompt) for i in range(users.option_count)]


def conversation_lines(app: ChatApp) -> list[str]:
    """Every line of the open conversation, as drawn (the visible ones by render_line)."""
    view = app.screen.query_one(ConversationView)
    return ["".join(part for _, part in line.parts) for line in view._lines]


def visible_lines(app: ChatApp) -> list[str]:
    view = app.screen.query_one(ConversationView)
    return [view.render_line(y).text.rstrip() for y in range(view.size.height)]


def status_text(app: ChatApp) -> str:
    return str(app.screen.query_one(StatusBar).render())


def login_text(app: ChatApp, selector: str) -> str:
    """What a widget of the login screen shows; "" until that screen is up and composed
    (a switch to it takes a few turns of the loop)."""
    screen = app.screen
    if not isinstance(screen, LoginScreen):
        return ""
    found = screen.query(selector)
    return str(found.first().render()) if found else ""


async def login_screen_says(app: ChatApp, selector: str, text: str) -> None:
    await wait_until(lambda: text in login_text(app, selector), f"{text!r} in {selector}")


async def notices(app: ChatApp, has: Callable[[Notification], bool], what: str) -> list[str]:
    """The notifications that ``has`` picks, once there is one. Textual adds a
    notification to the app when its Notify message is handled, after the handler that
    called notify() returns: a test that waited for another effect of that handler may
    look before it is there."""

    def picked() -> list[Notification]:
        return [n for n in app._notifications if has(n)]

    await wait_until(lambda: bool(picked()), what)
    return [str(n.message) for n in picked()]


def on_chat(app: ChatApp) -> bool:
    return isinstance(app.screen, ChatScreen)


async def chat_ready(app: ChatApp, *names: str) -> None:
    """Wait until the chat screen is up, connected (not only showing the cache of the
    last run), and lists these usernames."""
    await wait_until(
        lambda: (
            on_chat(app)
            and app.state.linked
            and all(any(n in r for r in roster_rows(app)) for n in names)
        ),
        f"chat screen with {names}",
    )


def delivered(app: ChatApp, peer: str) -> list[tuple[str, Delivery]]:
    contact = app.state.contacts[peer]
    return [(m.content, m.delivery) for m in contact.messages]


async def first_failure(url: str) -> str:
    """The reason ChatClient gives for its first failed attempt at ``url``."""
    client = ChatClient(url)
    posted: list[m.ServerMessage] = []
    client.login({"username": "amy"})
    task = asyncio.create_task(client.run(posted.append))
    try:
        await wait_until(
            lambda: any(isinstance(x, m.Retrying) for x in posted), f"a failure at {url}"
        )
    finally:
        await client.shutdown()
        await task
    return next(x.reason for x in posted if isinstance(x, m.Retrying))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


MakeApp = Callable[..., RecordingApp]


@pytest.fixture
def make_app(h: Harness) -> MakeApp:
    def make(url: str, sf: SessionFile, cafile: str | None = None, **kw: Any) -> RecordingApp:
        return RecordingApp(ChatClient(url, cafile=cafile), sf, **kw)

    return make
