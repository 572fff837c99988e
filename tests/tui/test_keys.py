"""Keys as real terminals send them (issue 15, item 1): Alt+Enter is ESC then CR in
xterm, GNOME Terminal, iTerm2 and tmux, and must start a new line, not send. The canary
of chat_tui/terminal.py's entry in Textual's table of sequences: Textual's own parser,
then chat-tui on a real pseudo-terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual._xterm_parser import XTermParser

from chat_tui.terminal import teach_keys
from tests.conftest import Harness, Server, wait_until
from tests.tui.process import TuiProcess

pytestmark = pytest.mark.stores("memory")


def keys(data: str) -> list[str]:
    parser = XTermParser()
    tokens = [*parser.feed(data), *parser.feed("")]  # "" ends the input
    return [str(getattr(t, "key", "")) for t in tokens]


def test_textual_reads_esc_cr_as_alt_enter_once_taught() -> None:
    assert teach_keys() is True  # the table is where this Textual keeps it
    assert keys("a\x1b\rb") == ["a", "alt+enter", "b"]
    assert keys("a\rb") == ["a", "enter", "b"]  # plain Enter is still Enter
    assert keys("\x1bx") == ["alt+x"]  # other Alt keys as before


async def test_alt_enter_from_a_real_terminal_starts_a_new_line(
    h: Harness, srv: Server, tmp_path: Path
) -> None:
    bob = await h.login(srv, "bob")
    sf = tmp_path / "amy.json"
    tui = TuiProcess(srv.url, sf, "amy")
    try:
        await wait_until(lambda: tui.shown_since(0, "bob") and sf.exists(), "chat", within=30)
        # bob's is the only conversation: it is open; type as xterm or tmux sends it
        tui.type("first line")
        tui.type("\x1b\r")  # Alt+Enter
        tui.type("second line")
        tui.type("\r")  # Enter
        (got,) = await bob.wait_for("private message", within=20)
        assert got["content"] == "first line\nsecond line"
        assert got["from"] == json.loads(sf.read_text())["userID"]
    finally:
        tui.quit()
