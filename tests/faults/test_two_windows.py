"""Two chat-tui windows of the same profile, both offline, each writes a message, both
quit: the outbox file keeps both, and the next start delivers each once (issue 12: the
second window's save used to overwrite the first's)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Harness, wait_until
from tests.faults.proxy import TcpProxy
from tests.tui.process import TuiProcess, outbox, type_line


async def test_two_windows_of_one_profile_lose_nothing(hs: Harness, tmp_path: Path) -> None:
    srv = await hs.server()
    bob = await hs.login(srv, "bob")
    proxy = TcpProxy(srv.port)
    url = await proxy.start()
    sf = tmp_path / "amy" / "session.json"
    one = TuiProcess(url, sf)
    two: TuiProcess | None = None
    try:
        await wait_until(sf.exists, "amy's first login", within=20)
        two = TuiProcess(url, sf)  # the same profile: the same session file and outbox
        for window in (one, two):
            await wait_until(
                lambda w=window: w.shown_since(0, r"(^|\s)bob\s+● online"), "bob's header", 20
            )
        await bob.wait_for("user connected", 2)
        proxy.refuse = True  # the server cannot be reached any more
        proxy.cut()
        for window in (one, two):
            await wait_until(lambda w=window: w.shown_since(0, "reconnecting"), "offline", 20)
        await type_line(one, "from window one")
        await wait_until(lambda: outbox(sf) == ["from window one"], "one's message queued")
        await type_line(two, "from window two")
        await wait_until(lambda: len(outbox(sf)) == 2, "two's message queued beside it")
        assert one.quit() == 0 and two.quit() == 0
        assert sorted(outbox(sf)) == ["from window one", "from window two"]

        again = TuiProcess(srv.url, sf)  # straight to the server
        try:
            await wait_until(lambda: not outbox(sf), "the outbox delivered", within=30)
        finally:
            again.kill()
        amy_id = json.loads(sf.read_text())["userID"]
        page = await bob.call("history", {"with": amy_id})
        assert sorted(m["content"] for m in page["messages"]) == [
            "from window one",
            "from window two",
        ]
    finally:
        one.kill()
        if two is not None:
            two.kill()
        await proxy.close()
