"""chat-tui as a real process on a pseudo-terminal, typed into key by key, for tests that
need what only a real terminal and a real process give (SIGKILL, two windows)."""

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

ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class TuiProcess:
    """``python -m chat_tui`` on a pseudo-terminal of 120x36; its screen is drained."""

    def __init__(self, url: str, session_file: Path, username: str = "amy", *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "36"}
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "chat_tui", url),
                *("--username", username, "--session-file", str(session_file), "--no-bell"),
                *args,
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
        self.raw = ""  # everything written, escape sequences included
        self._lock = threading.Lock()
        self._drain = threading.Thread(target=self._read_all, daemon=True)
        self._drain.start()

    def _read_all(self) -> None:
        with contextlib.suppress(OSError):
            while data := os.read(self.master, 65536):
                raw = data.decode(errors="replace")
                with self._lock:
                    self.raw += raw
                    self._screen += ANSI.sub("", raw)

    def shown_since(self, mark: int, pattern: str) -> bool:
        """Whether the terminal output after ``mark`` (escape sequences removed) matches."""
        with self._lock:
            return re.search(pattern, self._screen[mark:]) is not None

    def mark(self) -> int:
        with self._lock:
            return len(self._screen)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def quit(self) -> int:
        """Ctrl+Q, as a user quits; returns the exit code."""
        self.type("\x11")
        code = self.proc.wait(20)
        with contextlib.suppress(OSError):
            os.close(self.master)
        return code

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


async def type_line(tui: TuiProcess, text: str) -> None:
    for ch in text:  # key by key, as typed
        tui.type(ch)
        await asyncio.sleep(0.01)
    tui.type("\r")
