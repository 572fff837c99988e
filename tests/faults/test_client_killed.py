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
from tests.faults.proxy import TcpProxy

ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


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
    proxy = TcpProxy(srv.port)
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
        proxy.refuse = True
        proxy.cut()
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
