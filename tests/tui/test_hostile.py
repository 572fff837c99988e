"""chat-tui against hostile text and hostile servers (issue 11): nothing from the network
reaches the terminal as a control sequence, look-alike names are told apart, and a frame
too large to accept stops the client with a reason instead of a reconnect loop."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from chat_server.protocol import BIDI_CONTROLS
from chat_tui import messages as m
from chat_tui.app import ChatApp
from chat_tui.changes import LinkState
from chat_tui.client import ChatClient
from chat_tui.config import Config
from chat_tui.records import ChatMessage, Contact
from chat_tui.render import _BIDI_NAMES, safe_text
from chat_tui.screens.switcher import SwitcherScreen
from chat_tui.session_file import Session
from chat_tui.state import display_names
from tests.conftest import Harness, wait_until
from tests.tui.conftest import (
    SIZE,
    chat_ready,
    notices,
    on_chat,
    roster_rows,
    running,
    session_file,
)
from tests.tui.fake import ME, FakeLink, entry

OSC52 = "\x1b]52;c;SGlKQUNLRUQ=\x07"  # write to the clipboard
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # a link
CLEAR = "\x1b[2J\x1b[H"  # clear the screen
C1 = "\x9b31m\x9d0;title\x9c"  # the same, as 8-bit C1 controls
BIDI = "\u202etxt.exe"  # right-to-left override
HOSTILE = [OSC52, OSC8, CLEAR, C1, BIDI, "bell\x07", "nul\x00", "del\x7f"]
EVIL = "e0000000000000e1"

# TUI tests run on the default store only (the server suite covers every store)
pytestmark = pytest.mark.stores("sqlite")


def forbidden(text: str) -> list[str]:
    """Characters a terminal would act on: C0 (but newline), DEL, C1, and the bidi
    controls, which reorder what follows them."""
    return sorted(
        {
            f"U+{ord(ch):04X}"
            for ch in text
            if (unicodedata.category(ch) == "Cc" and ch != "\n") or ch in BIDI_CONTROLS
        }
    )


def screen_text(app: ChatApp) -> str:
    """Everything on the screen, toasts included, as Textual would draw it."""
    svg = app.export_screenshot()
    # the screenshot is SVG: drop its tags, keep the characters drawn
    return re.sub(r"<[^>]*>", "", svg)


async def test_hostile_names_and_messages_never_reach_the_terminal(tmp_path: Path) -> None:
    link = FakeLink()
    app = ChatApp(link, session_file(tmp_path), username="amy", config=Config(bell=False))
    evil_name = "".join(HOSTILE)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: link.post is not None, "the app to start its link")
        link.accept(entry(EVIL, evil_name))
        # (its row is cut to the roster's width: the end of the name is in the header)
        await wait_until(lambda: on_chat(app) and len(roster_rows(app)) == 2, "the roster")
        places = {}
        for i, text in enumerate(HOSTILE):  # messages: the conversation and a toast each
            link.say(m.MessageReceived(ChatMessage(text, EVIL, ME, id=i + 1, ts=1_800_000_000_000)))
        app.open_conversation(ME)  # not the open one: toasts for the next ones
        for i, text in enumerate(HOSTILE):
            link.say(
                m.MessageReceived(ChatMessage(text, EVIL, ME, id=50 + i, ts=1_800_000_000_000))
            )
        await pilot.pause()
        places["roster and toasts"] = screen_text(app)
        app.open_conversation(EVIL)
        await pilot.pause()
        places["header and conversation"] = screen_text(app)
        await pilot.press("ctrl+k")
        await wait_until(lambda: isinstance(app.screen, SwitcherScreen), "the switcher")
        await pilot.pause()
        places["switcher"] = screen_text(app)
        await pilot.press("escape")
        link.say(m.Refused("invalid username", "".join(HOSTILE)))  # a server's own words
        link.say(m.Retrying(2, 1.0, "".join(HOSTILE)))
        await pilot.pause()
        places["status and login"] = screen_text(app)
        places["title"] = f"{app.title} {app.sub_title}"
    for place, text in places.items():
        assert forbidden(text) == [], place
    assert "⟨RLO⟩txt.exe" in places["header and conversation"]  # shown, not obeyed
    assert "␛]52;c;SGlKQUNLRUQ=␇" in places["header and conversation"]


def test_one_sanitiser_covers_every_kind_of_control() -> None:
    for text in HOSTILE:
        assert forbidden(safe_text(text)) == [], repr(text)
    assert set(_BIDI_NAMES) == BIDI_CONTROLS
    assert safe_text("a\ud800b") == "a\ufffdb"  # a lone surrogate from a broken client


def test_names_that_look_the_same_get_a_suffix() -> None:
    contacts = [
        Contact("a1111111", "alice"),
        Contact("a2222222", "\uff41\uff4c\uff49\uff43\uff45"),  # fullwidth
        Contact("a3333333", "\u0430lice"),  # Cyrillic a
        Contact("b4444444", "bob"),
    ]
    names = display_names(contacts, None)
    assert names["a1111111"] == "alice #a111"
    assert names["a2222222"].endswith("#a222") and names["a3333333"].endswith("#a333")
    assert names["b4444444"] == "bob"


async def test_a_users_event_above_aiohttps_default_frame_limit_is_accepted(
    h: Harness, tmp_path: Path
) -> None:
    """aiohttp's client refuses frames over 4 MiB by default; a server may send more
    (the tutorial's sends every message it has). chat-tui accepts up to 64 MiB."""
    srv = await h.server(roster_history_bytes=8 * 1024 * 1024, history_limit=200)
    victim = await h.login(srv, "victim")
    hostile = "\x01" * 4000  # 24 KB a message in JSON
    for n in range(3):
        sender = await h.login(srv, f"sender{n}")
        for _ in range(80):
            await sender.call("private message", {"content": hostile, "to": victim.user_id})
    await victim.close()
    sf = session_file(tmp_path)
    sf.save(Session(victim.session_id, victim.user_id, "victim", srv.url))
    app = ChatApp(ChatClient(srv.url), sf, config=Config(bell=False))
    async with running(app):
        await chat_ready(app, "sender0", "sender1", "sender2")
        assert sum(len(c.messages) for c in app.state.contacts.values()) == 240


async def test_a_frame_too_large_stops_the_client_with_its_reason(
    h: Harness, tmp_path: Path
) -> None:
    srv = await h.server(roster_history_bytes=4 * 1024 * 1024)
    victim = await h.login(srv, "victim")
    sender = await h.login(srv, "sender")
    for _ in range(60):
        await sender.call("private message", {"content": "\x01" * 4000, "to": victim.user_id})
    await victim.close()
    sf = session_file(tmp_path)
    sf.save(Session(victim.session_id, victim.user_id, "victim", srv.url))
    client = ChatClient(srv.url, max_frame=512 * 1024)
    app = ChatApp(client, sf, config=Config(bell=False))
    async with running(app):
        await wait_until(lambda: app.status.link is LinkState.STOPPED, "the client to stop")
        assert "larger than 0.5 MiB" in app.status.detail
        attempts = await notices(app, lambda n: n.title == "Stopped", "the notice")
        assert len(attempts) == 1  # said once, not retried in a loop
