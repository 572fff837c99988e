"""The whole flow over TLS (https / wss) with a throw-away certificate."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from chat_tui.app import ChatApp
from chat_tui.client import ChatClient
from chat_tui.session_file import SessionFile
from tests.conftest import Harness, Peer, Proc, wait_until
from tests.tui.conftest import chat_ready, delivered, first_failure, running

pytestmark = pytest.mark.stores("sqlite")


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid for a day."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a throw-away certificate")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(keyfile),
            "-out",
            str(certfile),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return certfile, keyfile


@pytest.fixture
async def trusting(cert: tuple[Path, Path]) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session that trusts only the throw-away certificate."""
    context = ssl.create_default_context(cafile=str(cert[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as http:
        yield http


async def test_clients_talk_over_wss_and_an_untrusting_client_is_refused(
    h: Harness, cert: tuple[Path, Path], trusting: aiohttp.ClientSession
) -> None:
    srv = await h.server(certfile=str(cert[0]), keyfile=str(cert[1]))
    assert srv.url.startswith("https://")
    alice = h.peer(srv, "alice", http_session=trusting)
    await alice.connect({"username": "alice"})
    bob = h.peer(srv, "bob", http_session=trusting)
    await bob.connect({"username": "bob"})
    ack = await alice.call("private message", {"content": "over tls", "to": bob.user_id})
    assert "message" in ack
    (got,) = await bob.wait_for("private message")
    assert got["content"] == "over tls"
    stranger = Peer(srv.url, "stranger")  # the system's CAs do not know our certificate
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.sio.connect(srv.url, auth={"username": "x"}, transports=["websocket"])
    if stranger.sio.eio.http is not None:  # the failed connect leaves its session open
        await stranger.sio.eio.http.close()


async def test_chat_tui_connects_to_https_with_its_cafile(
    h: Harness, cert: tuple[Path, Path], trusting: aiohttp.ClientSession, tmp_path: Path
) -> None:
    srv = await h.server(certfile=str(cert[0]), keyfile=str(cert[1]))
    bob = h.peer(srv, "bob", http_session=trusting)
    await bob.connect({"username": "bob"})
    app = ChatApp(
        ChatClient(srv.url, cafile=str(cert[0])),
        SessionFile(tmp_path / "tui" / "s.json"),
        username="amy",
    )
    async with running(app) as pilot:
        await chat_ready(app, "bob")
        await pilot.press(*"secret hello", "enter")
        (got,) = await bob.wait_for("private message")
        assert got["content"] == "secret hello"
        await wait_until(lambda: delivered(app, bob.user_id)[0][0] == "secret hello", "shown")


async def test_the_command_serves_https(
    cert: tuple[Path, Path], trusting: aiohttp.ClientSession
) -> None:
    proc = await Proc.start(
        "--store", "memory://", "--certfile", str(cert[0]), "--keyfile", str(cert[1])
    )
    try:
        assert proc.url.startswith("https://")
        async with trusting.get(f"{proc.url}/healthz") as resp:
            assert resp.status == 200 and json.loads(await resp.text())["status"] == "ok"
        assert (await proc.stop())[0] == 0
    finally:
        await proc.kill()


async def test_chat_tui_says_why_tls_failed(h: Harness, cert: tuple[Path, Path]) -> None:
    """An untrusted certificate, and http:// typed for an https:// server, each with its
    own reason (issue 15: both said only "Connection error")."""
    srv = await h.server(certfile=str(cert[0]), keyfile=str(cert[1]))
    where = srv.url.removeprefix("https://")
    assert await first_failure(srv.url) == (
        f"the server's TLS certificate is not trusted ({where}; see --cafile)"
    )
    assert await first_failure(f"http://{where}") == (
        f"{where} closed the connection without answering (is it an https:// server?)"
    )
