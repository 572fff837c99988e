#!/usr/bin/env python3
"""chat-tui rendering: open a conversation of N messages, then append messages to it.

    .venv/bin/python bench/tui_render.py [--messages 10000] [--appends 200]

Runs the real ChatApp headless (Textual's pilot, 120x40) with its state filled directly
(no server needed: the client keeps retrying an unused port in the background). Times,
as medians in milliseconds, the app's work plus drawing every visible line of the
conversation (render_line for each screen row), which is what the user waits for:
  open     app.open_conversation(peer) on a conversation of N messages
  append   one incoming "private message" handled for the open conversation
pilot.pause() is not inside the timings: it waits for Textual to go idle (~20 ms here
even when nothing happens), which would hide the figures. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from chat_tui import messages as m
from chat_tui.app import ChatApp
from chat_tui.changes import ConversationChange, Shown
from chat_tui.client import Post
from chat_tui.config import Config
from chat_tui.records import Contact
from chat_tui.screens.chat import ChatScreen
from chat_tui.session_file import Session, SessionFile
from chat_tui.widgets.conversation import ConversationView
from chat_tui.wire import parse_message

ME, PEER, OTHER = "me00000000000000", "peer000000000000", "other00000000000"


def wire(i: int) -> dict[str, object]:
    frm, to = (PEER, ME) if i % 3 else (ME, PEER)
    words = " ".join(f"word{j}" for j in range(i % 25))
    return {
        "id": i,
        "ts": 1_790_000_000_000 + i * 60_000,
        "content": f"message {i} {words}",
        "from": frm,
        "to": to,
    }


class Offline:
    """A connection that never connects: the benchmark feeds the app itself."""

    url = "http://127.0.0.1:9"
    connected = False

    def __init__(self) -> None:
        self.auth: dict[str, str] = {}

    async def run(self, post: Post) -> None:
        await asyncio.Event().wait()

    def login(self, auth: dict[str, str]) -> None:
        """Never used."""

    def retry_now(self) -> None:
        """Never used."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def emit(self, event: str, data: object) -> None:
        raise ConnectionError("offline")

    async def call(self, event: str, data: object) -> object:
        raise ConnectionError("offline")


async def run(messages: int, appends: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sf = SessionFile(Path(tmp) / "s.json")
        sf.save(Session("0" * 32, ME, "me", "http://127.0.0.1:9"))
        app = ChatApp(Offline(), sf, config=Config(bell=False))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            state = app.state
            state.self_id = ME
            history = [x for x in (parse_message(wire(i)) for i in range(messages)) if x]
            state.contacts = {
                ME: Contact(ME, "me", True),
                PEER: Contact(PEER, "peer", True, history),
                OTHER: Contact(OTHER, "other", True),
            }
            screen = app.screen
            assert isinstance(screen, ChatScreen)
            view = screen.query_one(ConversationView)

            def draw() -> None:
                for y in range(view.size.height):
                    view.render_line(y)

            opens = []
            for _ in range(5):
                app.open_conversation(OTHER)
                await pilot.pause()
                t0 = time.perf_counter()
                app.open_conversation(PEER)  # the state, then what the screen's signal does:
                screen.draw_conversation(ConversationChange(PEER, Shown.OPENED))
                draw()
                opens.append((time.perf_counter() - t0) * 1000)
                await pilot.pause()
            lines = len(view._lines)
            adds = []
            for k in range(appends):
                msg = parse_message(wire(messages + k))
                assert msg is not None
                t0 = time.perf_counter()
                app.from_server(m.MessageReceived(msg))
                screen.draw_conversation(ConversationChange(PEER, Shown.APPENDED))
                draw()
                adds.append((time.perf_counter() - t0) * 1000)
                await pilot.pause()
            assert len(state.contacts[PEER].messages) == messages + appends
            return {
                "messages": messages,
                "lines": lines,
                "open_ms": round(statistics.median(opens), 2),
                "append_ms": round(statistics.median(adds), 2),
                "append_p90_ms": round(sorted(adds)[int(len(adds) * 0.9)], 2),
            }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--appends", type=int, default=200)
    a = ap.parse_args()
    print(json.dumps(asyncio.run(run(a.messages, a.appends))))


if __name__ == "__main__":
    main()
