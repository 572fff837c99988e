"""chat-tui, a real process on a pseudo-terminal, killed with SIGKILL while its outbox
holds messages, then started again: each message is delivered exactly once.

Two kinds of pending message are in the outbox at the kill: one the server stored and
delivered but whose ack never came back (a proxy holds the server's answers), and ones
written while the server could not be reached at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Harness, Server, wait_until
from tests.faults.proxy import TcpProxy
from tests.tui.process import TuiProcess, outbox, type_line

pytestmark = pytest.mark.stores("sqlite")


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
        await pending(tui, sf, ["a1", "a2"])

        # 2. the server cannot be reached at all
        proxy.refuse = True
        proxy.cut()
        await type_line(tui, "b1")
        await type_line(tui, "b2")
        await pending(tui, sf, ["a1", "a2", "b1", "b2"])
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


async def pending(tui: TuiProcess, sf: Path, expected: list[str]) -> None:
    """Wait for the outbox file to hold ``expected``, as long as the other waits on the
    chat-tui process here (a busy CI machine once took more than 5 s); a failure says what
    the file held and what the screen showed last."""
    try:
        await wait_until(lambda: outbox(sf) == expected, f"{expected} pending", within=20)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; outbox {outbox(sf)}; screen {tui.raw[-1500:]!r}") from None
