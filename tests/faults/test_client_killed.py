"""chat-tui, a real process on a pseudo-terminal, killed with SIGKILL while its outbox
holds messages, then started again: each message is delivered exactly once.

Two kinds of pending message are in the outbox at the kill: one the server stored and
delivered but whose ack never came back (a proxy holds the server's answers), and ones
written while the server could not be reached at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from tests.conftest import Harness, Server, wait_until

ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class HoldingProxy:
    """Forwards to the server. ``hold`` withholds everything the server sends from then
    on (acks are lost); ``refuse`` drops every connection and refuses new ones."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.hold = False
        self.refuse = False
        self.transports: set[asyncio.BaseTransport] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, downstream: bool
    ) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                if downstream and self.hold:
                    continue  # swallowed: the client never hears back
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self.transports |= {writer.transport, up_writer.transport}
        await asyncio.gather(
            self._pipe(reader, up_writer, downstream=False),
            self._pipe(up_reader, writer, downstream=True),
        )

    def cut_and_refuse(self) -> None:
        self.refuse = True
        for transport in self.transports:
            transport.abort()  # type: ignore[attr-defined]
        self.transports.clear()

    async def close(self) -> None:
        self.cut_and_refuse()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class TuiProcess:
    """``python -m chat_tui`` on a pseudo-terminal of 120x36; its screen is drained."""

    def __init__(self, url: str, session_file: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "chat_tui", url),
                *("--username", "amy", "--session-file", str(session_file), "--no-bell"),
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self._screen = ""
        self._lock = threading.Lock()
        self._drain = threading.Thread(target=self._read_all, daemon=True)
        self._drain.start()

    def _read_all(self) -> None:
        with contextlib.suppress(OSError):
            while data := os.read(self.master, 65536):
                text = ANSI.sub("", data.decode(errors="replace"))
                with self._lock:
                    self._screen += text

    def shown_since(self, mark: int, pattern: str) -> bool:
        """Whether the terminal output after ``mark`` (escape sequences removed) matches."""
        with self._lock:
            return re.search(pattern, self._screen[mark:]) is not None

    def mark(self) -> int:
        with self._lock:
            return len(self._screen)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        with contextlib.suppress(OSError):
            os.close(self.master)


def outbox(session_file: Path) -> list[str]:
    path = session_file.with_name(session_file.stem + ".outbox.json")
    try:
        return [item["content"] for item in json.loads(path.read_text())]
    except (FileNotFoundError, ValueError):
        return []


@pytest.fixture(params=["sqlite"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def type_line(tui: TuiProcess, text: str) -> None:
    for ch in text:  # key by key, as typed
        tui.type(ch)
        await asyncio.sleep(0.01)
    tui.type("\r")


async def test_killed_with_a_full_outbox_each_message_arrives_once(
    h: Harness, srv: Server, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    proxy = HoldingProxy(srv.port)
    url = await proxy.start()
    sf = tmp_path / "amy" / "session.json"
    tui = TuiProcess(url, sf)
    try:
        await wait_until(sf.exists, "amy's first login", within=20)
        await bob.wait_for("user connected")
        # bob is the only other user, so chat-tui opens his conversation by itself; the
        # composer has the focus from the start
        await wait_until(lambda: tui.shown_since(0, r"(^|\s)bob\s+● online"), "bob's header")
        await type_line(tui, "hello")
        await bob.wait_for("private message", within=20)

        # 1. acks are lost: "a1" is stored and delivered, but stays in amy's outbox
        proxy.hold = True
        await type_line(tui, "a1")
        await bob.wait_for("private message", 2)
        await type_line(tui, "a2")  # waits behind a1, unsent
        await wait_until(lambda: outbox(sf) == ["a1", "a2"], "a1 and a2 pending")

        # 2. the server cannot be reached at all
        proxy.cut_and_refuse()
        await type_line(tui, "b1")
        await type_line(tui, "b2")
        await wait_until(lambda: outbox(sf) == ["a1", "a2", "b1", "b2"], "four pending")
        tui.kill()  # SIGKILL: no clean-up of any kind

        # 3. started again, straight to the server
        tui = TuiProcess(srv.url, sf)
        await wait_until(lambda: not outbox(sf), "the outbox delivered", within=30)
        amy_id = json.loads(sf.read_text())["userID"]
        page = await bob.call("history", {"with": amy_id})
        assert [m["content"] for m in page["messages"]] == ["hello", "a1", "a2", "b1", "b2"]
        await bob.wait_for("private message", 5)
        live = [m["content"] for m in bob.of("private message")]
        assert live == ["hello", "a1", "a2", "b1", "b2"]  # each once, in order
    finally:
        tui.kill()
        await proxy.close()
