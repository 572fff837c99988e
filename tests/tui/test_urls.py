"""The command line as people type it: the server URL (issue 15, item 3), --version; and why
the login box with the attempt count (item 2): real sockets, a real web server that is
not a chat server, a real chat-server for the TLS mismatch (tests/server/test_tls.py has
the certificate cases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from chat_tui.app import ChatApp
from chat_tui.cli import main
from chat_tui.client import ChatClient
from chat_tui.config import Config
from chat_tui.urls import normalise_url
from tests.conftest import Harness, Server, free_port
from tests.tui.conftest import first_failure, login_screen_says, running, session_file


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("127.0.0.1:4201", "http://127.0.0.1:4201"),  # the most common first try
        ("localhost", "http://localhost"),
        ("  chat.example.org:443  ", "http://chat.example.org:443"),
        ("HTTPS://chat.example.org/", "https://chat.example.org"),
        ("ws://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("wss://chat.example.org", "https://chat.example.org"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("chat.example.org:3000/", "http://chat.example.org:3000"),
    ],
)
def test_urls_as_people_type_them(typed: str, url: str) -> None:
    assert normalise_url(typed) == url


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("ftp://127.0.0.1:3000", "not ftp://"),
        ("http://", "no host name"),
        ("http://:3000", "no host name"),
        ("127.0.0.1:99999", "port must be a number"),
        ("127.0.0.1:port", "port must be a number"),
        ("", "empty"),
        ("127.0.0.1:0", "port must be a number"),
        ("http://[::1", "Invalid IPv6"),
        ("http://amy:secret@127.0.0.1:3000", "no user name or password"),
        ("https://chat.example.org/chat", "leave out the path"),
    ],
)
def test_urls_that_cannot_work_are_refused_with_a_reason(typed: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        normalise_url(typed)


def test_the_command_refuses_a_bad_url_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["ftp://127.0.0.1:3000"])
    assert exit_.value.code == 2
    assert "chat-tui speaks http:// and https:// (not ftp://)" in capsys.readouterr().err


@pytest.fixture
async def not_chat() -> AsyncIterator[str]:
    """A web server that answers 404 to everything: something else on the port."""
    runner = web.AppRunner(web.Application())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_failures_say_which_failure_it_was(not_chat: str) -> None:
    port = free_port()  # nothing listens there
    assert await first_failure(f"http://127.0.0.1:{port}") == (
        f"connection refused: nothing listens on 127.0.0.1:{port}"
    )
    assert await first_failure("http://nosuchhost.invalid:3000") == (
        "unknown host: nosuchhost.invalid"
    )
    assert await first_failure(f"http://{not_chat}") == (
        f"not a chat server: {not_chat} answered HTTP 404 where Socket.IO should be"
    )


@pytest.mark.stores("memory")
async def test_https_to_a_plain_server_says_so(h: Harness) -> None:
    srv: Server = await h.server()
    plain = srv.url.removeprefix("http://")
    assert await first_failure(f"https://{plain}") == (
        f"TLS failed with {plain}: is it a plain http:// server?"
    )


async def test_the_login_box_says_why_and_which_attempt_and_ctrl_r_tries_now(
    tmp_path: Path,
) -> None:
    port = free_port()
    # an hour between attempts: only Ctrl+R can start the next one within the test
    client = ChatClient(f"http://127.0.0.1:{port}", backoff=lambda _: 3600.0)
    app = ChatApp(client, session_file(tmp_path), config=Config())
    async with running(app) as pilot:
        await pilot.press(*"amy", "enter")
        await login_screen_says(app, "#login-error", "nothing listens on 127.0.0.1")
        await login_screen_says(app, "#login-error", "attempt 2 in 3600 s · Ctrl+R tries now")
        await pilot.press("ctrl+r")
        await login_screen_says(app, "#login-error", "attempt 3 in 3600 s")


def test_the_command_says_its_version(capsys: pytest.CaptureFixture[str]) -> None:
    from chat_server import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"chat-tui {__version__}"
