#!/usr/bin/env python3
"""Make docs/chat-tui.svg: chat-tui's main screen, exported by Textual as SVG.

    .venv/bin/python docs/screenshot.py [OUT.svg]

(tests/tui/test_screenshot.py runs it too, so it cannot fall behind the app.)

Runs a throw-away chat-server in this process, fills it with a short conversation from
real python-socketio clients, and drives chat-tui with Textual's pilot.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

from chat_server.app import create_app
from chat_server.config import Config
from chat_tui.app import ChatApp
from chat_tui.client import ChatClient
from chat_tui.config import Config as TuiConfig
from chat_tui.session_file import Session, SessionFile

OUT = Path(__file__).resolve().parent / "chat-tui.svg"


async def login(url: str, name: str) -> tuple[socketio.AsyncClient, dict[str, Any]]:
    sio = socketio.AsyncClient()
    session: dict[str, Any] = {}
    got = asyncio.Event()

    def on_session(data: dict[str, Any]) -> None:
        session.update(data)
        got.set()

    sio.on("session", on_session)
    await sio.connect(url, auth={"username": name}, transports=["websocket"])
    await got.wait()
    return sio, session


async def main(out: Path = OUT) -> None:
    runner = web.AppRunner(create_app(Config(store="memory://")))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    alice, me = await login(url, "alice")
    bob, b = await login(url, "bob")
    carol, c = await login(url, "carol")
    dave, _ = await login(url, "dave")
    await dave.disconnect()
    lines = [
        (bob, b, me, "morning! did the deploy go out?"),
        (alice, me, b, "yes, 09:40. the new history paging is live"),
        (bob, b, me, "nice. scrolling up in a 20k-message chat is instant now"),
        (alice, me, b, "that was the point :)\nnext: the Redis scale-out"),
        (bob, b, me, "ping me when you want a review"),
    ]
    for sio, _sender, to, text in lines:
        await sio.call("private message", {"content": text, "to": to["userID"]})
    await alice.disconnect()

    with tempfile.TemporaryDirectory() as tmp:
        sf = SessionFile(Path(tmp) / "s.json")
        sf.save(Session(me["sessionID"], me["userID"], "alice", url))
        app = ChatApp(ChatClient(url), sf, config=TuiConfig(bell=False))
        async with app.run_test(size=(110, 24)) as pilot:
            for _ in range(100):
                if b["userID"] in app.state.contacts and app.state.open_id:
                    break
                await pilot.pause(0.05)
            app.open_conversation(b["userID"])
            await carol.call("private message", {"content": "lunch?", "to": me["userID"]})
            await carol.call("private message", {"content": "usual place?", "to": me["userID"]})
            for _ in range(100):
                if app.state.contacts[c["userID"]].unread == 2:
                    break
                await pilot.pause(0.05)
            app.clear_notifications()
            await pilot.press(*"sounds good")
            await pilot.pause(0.3)
            app.save_screenshot(filename=out.name, path=str(out.parent))
    for sio in (bob, carol):
        await sio.disconnect()
    await runner.cleanup()
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
