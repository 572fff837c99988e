"""A Ctrl+K or Ctrl+F screen closed while its question to the server is in flight: the
late answer is dropped, the app goes on. (It crashed with NoMatches under load: Enter
chose a user, and the directory's answer came while the closing screen had already lost
its widgets. The test takes them away itself, then lets the answer in.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import OptionList

from chat_server import protocol as p
from chat_tui.screens.chat import ChatScreen
from tests.conftest import wait_until
from tests.tui.conftest import fake_chat, session_file
from tests.tui.fake import BOB, entry


@pytest.mark.parametrize(("key", "event"), [("ctrl+k", p.DIRECTORY), ("ctrl+f", p.SEARCH)])
async def test_an_answer_after_the_screen_closed_is_dropped(
    tmp_path: Path, key: str, event: str
) -> None:
    async with fake_chat(session_file(tmp_path), entry(BOB, "bob")) as (app, link, pilot):
        link.held[event] = gate = asyncio.Event()
        await pilot.press(key, *"bo")
        await wait_until(lambda: event in link.asked, f"the {event} question")
        closing = app.screen
        await closing.query_one(OptionList).remove()  # as a closing screen loses them
        gate.set()  # the answer comes now
        for _ in range(5):
            await pilot.pause()
        assert app.is_running and app.screen is closing
        await pilot.press("escape")
        await wait_until(lambda: isinstance(app.screen, ChatScreen), "the screen closed")
        assert app._exit_renderables == []  # no traceback was queued for the exit
        await pilot.press(*"still here")
        assert app.state.drafts.get(BOB) == "still here"
