"""The canary of chat_tui/terminal.py, chat-tui's one reach into Textual's internals: an
escape sequence of its own goes out through ``App._driver.write``, as Textual's own bell
and clipboard do. When a Textual release moves it, this fails (and chat-tui writes
nothing: the toast and the bell still tell the user). tests/tui/test_live.py sees the
sequence arrive on a real pseudo-terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_tui.app import ChatApp
from chat_tui.config import Config
from chat_tui.terminal import write_sequence
from tests.tui.conftest import running, session_file
from tests.tui.fake import FakeLink


async def test_textual_still_writes_through_the_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = ChatApp(FakeLink(), session_file(tmp_path), config=Config(bell=False))
    async with running(app):
        driver = app._driver
        assert driver is not None and callable(driver.write)  # the reach itself
        assert write_sequence(app, "\x1b]9;x\x07") is False  # headless: nowhere to write
        written: list[str] = []
        # The patches live only between awaits: with no await inside this block, no
        # refresh of the app runs while it believes it has a terminal; leaving it puts
        # the driver back before the app shuts down (a refresh then would write to None).
        with monkeypatch.context() as patch:
            patch.setattr(type(app), "is_headless", property(lambda _: False))
            patch.setattr(driver, "write", written.append)
            assert write_sequence(app, "\x1b]9;hello\x07") is True
            assert written == ["\x1b]9;hello\x07"]
            patch.setattr(driver, "write", None)
            assert write_sequence(app, "x") is False  # moved: the fallback writes nothing
        assert app.is_headless and callable(driver.write)
