"""``chat-server backup`` and ``chat-server export`` as an operator runs them, against a
real server process that keeps writing."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
from pathlib import Path

from chat_server.stores import sqlite_lib
from tests.conftest import Peer, Proc


async def command(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "chat_server", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_backup_under_a_stream_of_sends_holds_every_acked_message(
    tmp_path: Path, procs: list[Proc]
) -> None:
    db = tmp_path / "chat.db"
    store = f"sqlite://{db}"
    proc = await Proc.start("--store", store)
    procs.append(proc)
    alice = Peer(proc.url, "alice")
    await alice.connect({"username": "alice"})
    acked: dict[int, str] = {}
    stop, fifty = asyncio.Event(), asyncio.Event()

    async def stream() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            ack = await alice.call("private message", {"content": f"m{n}", "to": alice.user_id})
            acked[ack["message"]["id"]] = f"m{n}"
            if len(acked) >= 50:
                fifty.set()

    sender = asyncio.create_task(stream())
    try:
        await asyncio.wait_for(fifty.wait(), 30)
        before = dict(acked)  # acked before the backup began
        copy = tmp_path / "backup" / "copy.db"
        copy.parent.mkdir()
        code, out, err = await command("backup", str(copy), "--store", store)
        during = len(acked) - len(before)
    finally:
        stop.set()
        await sender
    assert code == 0, err
    assert "backed up" in out and "integrity check: ok" in out
    assert during > 0  # the server kept taking messages meanwhile
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not list(copy.parent.glob(".*part*"))  # no partial file left
    conn = sqlite_lib.connect(copy)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = dict(conn.execute("SELECT id, content FROM messages").fetchall())
    finally:
        conn.close()
    assert all(rows.get(i) == content for i, content in before.items())
    # a second backup to the same path is refused, and leaves it alone
    code, _, err = await command("backup", str(copy), "--store", store)
    assert code == 1 and "exists" in err
    await alice.close()


async def test_backup_says_what_to_do_on_other_stores(tmp_path: Path) -> None:
    code, _, err = await command("backup", str(tmp_path / "x"), "--store", "memory://")
    assert code == 2 and "memory://" in err
    code, _, err = await command("backup", str(tmp_path / "x"), "--store", "redis://127.0.0.1:1")
    assert code == 2 and "BGSAVE" in err
    code, _, err = await command("backup", str(tmp_path / "x"), "--store", "sqlite:///nope/x.db")
    assert code == 1 and "no database" in err


async def test_export_prints_a_users_conversations_as_json_lines(
    tmp_path: Path, procs: list[Proc]
) -> None:
    db = tmp_path / "chat.db"
    store = f"sqlite://{db}"
    proc = await Proc.start("--store", store)
    procs.append(proc)
    alice, bob, carol = Peer(proc.url), Peer(proc.url), Peer(proc.url)
    for peer, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        await peer.connect({"username": name})
    first = await alice.call("private message", {"content": "hi bob", "to": bob.user_id})
    await bob.call(
        "private message",
        {"content": "hi alice", "to": alice.user_id, "replyTo": first["message"]["id"]},
    )
    await alice.call("edit message", {"id": first["message"]["id"], "content": "hello bob"})
    gone = await alice.call("private message", {"content": "oops", "to": bob.user_id})
    await alice.call("delete message", {"id": gone["message"]["id"]})
    await carol.call("private message", {"content": "<b>[bold]x[/]</b>", "to": alice.user_id})
    await bob.call("private message", {"content": "not alice's", "to": carol.user_id})
    code, out, err = await command("export", "ALICE", "--store", store)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"type": "user", "userID": alice.user_id, "username": "alice"}
    messages = lines[1:]
    assert [m["content"] for m in messages] == ["hello bob", "hi alice", "", "<b>[bold]x[/]</b>"]
    assert messages[0]["editedAt"] and messages[1]["replyTo"] == first["message"]["id"]
    assert messages[2]["deleted"] is True
    assert messages[0]["with"] == {"userID": bob.user_id, "username": "bob"}
    assert all(m["type"] == "message" and m["ts"] and m["id"] for m in messages)
    assert "exported 4 message(s)" in err
    # to a private file; an unknown user is an error
    target = tmp_path / "alice.jsonl"
    code, _, err = await command("export", alice.user_id, "--store", store, "--output", str(target))
    assert code == 0, err
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert target.read_text() == out
    code, _, err = await command("export", "nobody", "--store", store)
    assert code == 1 and "no user" in err
    for peer in (alice, bob, carol):
        await peer.close()
