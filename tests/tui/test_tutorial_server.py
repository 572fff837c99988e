"""chat-tui against a server that speaks only the tutorial's protocol: the Node.js
reference server (../shared/reference/node-server): no ids, no times, no acks, no paging."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chat_tui.records import Delivery
from chat_tui.widgets.composer import Composer
from tests.conftest import Peer, wait_until
from tests.tui.conftest import (
    MakeApp,
    chat_ready,
    conversation_lines,
    delivered,
    on_chat,
    running,
    session_file,
)

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "node-server"
CACHE = Path(tempfile.gettempdir()) / "chat-tests-node-server"


def install_reference() -> Path:
    """Copy the reference server into a cache folder and npm-install it once."""
    stamp = CACHE / ".installed"
    want = (REFERENCE / "package.json").read_text()
    CACHE.mkdir(parents=True, exist_ok=True)
    for f in REFERENCE.iterdir():
        if f.is_file():
            shutil.copy2(f, CACHE / f.name)
    if not (stamp.exists() and stamp.read_text() == want):
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=CACHE, check=True
        )
        stamp.write_text(want)
    return CACHE


@pytest.fixture
async def tutorial_server() -> AsyncIterator[str]:
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is not beside this checkout")
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the reference server")
    folder = install_reference()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        "node",
        "server.js",
        cwd=folder,
        env={**os.environ, "PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(20):
        assert b"listening" in await proc.stdout.readline()
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    await proc.wait()


async def test_chat_tui_works_against_the_tutorial_server(
    tutorial_server: str, make_app: MakeApp, tmp_path: Path
) -> None:
    bob = Peer(tutorial_server, "bob")
    await bob.connect({"username": "bob"})
    sf = session_file(tmp_path)
    app = make_app(tutorial_server, sf, username="amy")
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        assert not app.server_acks
        await pilot.press(*"hello from the tui", "enter")
        (got,) = await bob.wait_for("private message")
        assert got == {
            "content": "hello from the tui",
            "from": app.state.self_id,
            "to": bob.user_id,
        }
        await wait_until(
            lambda: delivered(app, bob.user_id) == [("hello from the tui", Delivery.SENT)], "sent"
        )
        await bob.send(app.state.self_id or "", "hi amy")
        await wait_until(
            lambda: any(line.endswith("hi amy") for line in conversation_lines(app)), "reply"
        )
        # issue 14's keys: said plainly to be unsupported here, and nothing else breaks
        await pilot.press("ctrl+up", "up", "e", "d", "r", "g", "escape", "ctrl+f")
        said = [str(n.message) for n in app._notifications]
        for what in ("editing messages", "deleting messages", "replies", "search"):
            assert f"This server does not support {what}." in said, what
        assert app.compose_mode is None and on_chat(app)
        await pilot.press("up")  # no edits here: Up recalls the last message instead
        assert app.screen.query_one(Composer).text == "hello from the tui"
        user_id = app.state.self_id
    again = make_app(tutorial_server, sf)
    async with running(again):
        await chat_ready(again, "bob")
        assert again.state.self_id == user_id  # the stored session is reused
        assert [c for c, _ in delivered(again, bob.user_id)] == ["hello from the tui", "hi amy"]
    await bob.close()
