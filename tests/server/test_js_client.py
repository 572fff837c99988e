"""A Socket.IO JavaScript client written for the tutorial works against chat-server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness, Server

JS = Path(__file__).resolve().parents[1] / "js"

pytestmark = pytest.mark.stores("memory")  # wire compatibility does not depend on the store: once


@pytest.fixture(scope="session")
def js_client() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the JavaScript interop test")
    if not (JS / "node_modules" / "socket.io-client").exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund"], cwd=JS, check=True
        )
    return JS / "tutorial_client.js"


async def test_tutorial_javascript_client_talks_to_a_python_client(
    h: Harness, srv: Server, js_client: Path
) -> None:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(js_client),
        srv.url,
        "py-bob",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    steps: dict[str, dict[str, Any]] = {}

    async def step(name: str) -> dict[str, Any]:
        async with asyncio.timeout(20):
            while name not in steps:
                line = await proc.stdout.readline()  # type: ignore[union-attr]
                assert line, f"node exited before step {name}: {steps}"
                data = json.loads(line)
                assert data["step"] != "error", data
                steps[data["step"]] = data
        return steps[name]

    try:
        refused = await step("refused")
        assert refused["message"] == "invalid username"
        assert refused["data"] == {"reason": "username required"}
        ready = await step("ready")
        assert ready["self"]["connected"] is True and ready["self"]["username"] == "js-alice"

        bob = await h.login(srv, "py-bob")
        (msg,) = await bob.wait_for("private message")
        assert msg["content"] == "hello from js" and msg["from"] == ready["userID"]
        assert msg["to"] == bob.user_id
        await bob.send(ready["userID"], "hello from python")

        got = (await step("got"))["message"]
        assert {k: got[k] for k in ("content", "from", "to")} == {
            "content": "hello from python",
            "from": bob.user_id,
            "to": ready["userID"],
        }
        reloaded = await step("reloaded")
        assert reloaded["userID"] == ready["userID"]
        assert reloaded["sessionID"] == ready["sessionID"]
        entry = next(u for u in reloaded["users"] if u["userID"] == bob.user_id)
        assert [m["content"] for m in entry["messages"]] == ["hello from js", "hello from python"]
        assert entry["connected"] is True
        async with asyncio.timeout(20):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


LOADGEN = Path(__file__).resolve().parents[3] / "shared" / "bench" / "loadgen.js"


@pytest.mark.skipif(not LOADGEN.exists(), reason=f"{LOADGEN} is not beside this checkout")
async def test_the_benchmark_load_generator_runs_clean(
    h: Harness, srv: Server, js_client: Path
) -> None:
    """../shared/bench/loadgen.js, a client written for the tutorial, finds nothing lost,
    doubled or misrouted and gets its user back on reconnect."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(LOADGEN),
        "--url",
        srv.url,
        "--users",
        "8",
        "--messages",
        "25",
        "--window",
        "4",
        "--timeout",
        "20000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"NODE_PATH": str(JS / "node_modules"), "PATH": os.environ["PATH"]},
    )
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert (result["sent"], result["received"]) == (200, 200)
    assert (result["lost"], result["dup"], result["misrouted"]) == (0, 0, 0)
    assert result["reconnect_same_user"] is True
    assert result["user0_history_messages"] > 0
