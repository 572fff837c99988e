"""A resize keeps the user's place (issue 15, item 4): at the bottom, the newest message
stays in view; scrolled up, the same message stays at the top."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from chat_tui.app import ChatApp
from chat_tui.messages import MessageReceived
from chat_tui.records import ChatMessage
from chat_tui.widgets.conversation import ConversationView
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, session_file, visible_lines
from tests.tui.fake import BOB, ME, FakeLink, entry

WORDS = "a message long enough to wrap onto a second line when the terminal is narrow"


def receive(link: FakeLink, count: int, start: int = 1) -> None:
    for n in range(start, start + count):
        link.say(MessageReceived(ChatMessage(f"m{n:03} {WORDS}", BOB, ME, id=n, ts=n * 1000)))


async def received(app: ChatApp, count: int) -> ConversationView:
    view = app.screen.query_one(ConversationView)
    await wait_until(
        lambda: (
            view.contact is not None
            and len(view.contact.messages) == count
            and len(view._starts) == count  # laid out
        ),
        "messages",
    )
    return view


async def resized(pilot: Pilot[None], view: ConversationView, width: int, height: int) -> None:
    await pilot.resize_terminal(width, height)
    await wait_until(lambda: view.app.size == (width, height), "the new size")
    await pilot.pause()


def shows(app: ChatApp, text: str) -> bool:
    return any(text in line for line in visible_lines(app))


async def test_at_the_bottom_the_newest_message_stays_in_view(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, link, pilot):
        receive(link, 40)
        view = await received(app, 40)
        await wait_until(lambda: shows(app, "m040"), "the newest message")
        # narrower and shorter, taller only, then wider: the newest stays on screen
        for width, height in ((60, 15), (60, 30), (120, 40), (80, 12)):
            await resized(pilot, view, width, height)
            assert shows(app, "m040"), (width, height, visible_lines(app))
            assert view.scroll_y == view.max_scroll_y


async def test_a_short_conversation_keeps_its_newest_message_in_view(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, link, pilot):
        receive(link, 4)
        view = await received(app, 4)
        await wait_until(lambda: shows(app, "m004"), "the newest message")
        assert view.max_scroll_y == 0  # it fits at 120x36
        for width, height in ((120, 12), (60, 15)):  # shorter only, then narrower too
            await resized(pilot, view, width, height)
            assert view.max_scroll_y > 0  # it does not fit any more
            assert shows(app, "m004"), (width, height, visible_lines(app))


async def test_scrolled_up_the_same_message_stays_at_the_top(tmp_path: Path) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, link, pilot):
        receive(link, 60)
        view = await received(app, 60)
        await wait_until(lambda: shows(app, "m060"), "the newest message")
        await wait_until(lambda: view.scroll_y == view.max_scroll_y, "at the bottom")
        # (forced: right after a burst, the scrollbar may not be laid out yet)
        view.scroll_to(y=view._starts[20], animate=False, immediate=True, force=True)
        await wait_until(lambda: "m021" in visible_lines(app)[0], "scrolled up")
        for width, height in ((60, 15), (120, 40), (70, 20)):
            await resized(pilot, view, width, height)
            assert "m021" in visible_lines(app)[0], (width, height, visible_lines(app)[:2])
            assert view.scroll_y < view.max_scroll_y  # not dragged to the bottom
