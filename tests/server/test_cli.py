"""The chat-server command as a user runs it: a real process, its output and its signals."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from chat_server.cli import parse_config, redact_url
from tests.conftest import Peer, Proc


async def healthz(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as resp:
        return resp.status, json.loads(await resp.text())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_runs_prints_url_and_store_serves_health_and_stops_cleanly(
    tmp_path: Path, procs: list[Proc], sig: int
) -> None:
    db = tmp_path / "data" / "chat.db"
    proc = await Proc.start("--store", f"sqlite://{db}", "--health-details")
    procs.append(proc)
    assert f"store: sqlite://{db}" in "".join(proc.stdout)
    alice = Peer(proc.url, "alice")
    await alice.connect({"username": "alice"})
    await alice.call("private message", {"content": "kept", "to": alice.user_id})
    status, body = await healthz(proc.url)
    assert status == 200
    assert body["store"] == "sqlite" and body["sockets"] == 1 and body["users"] == 1
    assert body["version"] and body["status"] == "ok"
    await alice.close()
    code, out, err = await proc.stop(sig)
    assert code == 0, err
    assert "shutting down" in out
    assert "Traceback" not in err
    # the store was flushed and closed: a new process finds everything
    proc2 = await Proc.start("--store", f"sqlite://{db}")
    procs.append(proc2)
    again = Peer(proc2.url, "again")
    await again.connect({"sessionID": alice.session_id})
    assert [m["content"] for m in again.entry(alice.user_id)["messages"]] == ["kept"]
    await again.close()
    assert (await proc2.stop())[0] == 0


async def test_environment_variables_configure_the_process(procs: list[Proc]) -> None:
    proc = await Proc.start(
        env={"CHAT_SERVER_STORE": "memory://", "CHAT_SERVER_HISTORY_LIMIT": "2"}
    )
    procs.append(proc)
    assert "store: memory://" in "".join(proc.stdout)
    alice = Peer(proc.url, "alice")
    await alice.connect({"username": "alice"})
    for i in range(3):
        await alice.call("private message", {"content": f"m{i}", "to": alice.user_id})
    await alice.close()
    again = Peer(proc.url)
    await again.connect({"sessionID": alice.session_id})
    entry = again.entry(alice.user_id)
    assert [m["content"] for m in entry["messages"]] == ["m1", "m2"] and entry["hasMore"]
    await again.close()


async def test_debug_logs_never_show_a_session_id(procs: list[Proc]) -> None:
    proc = await Proc.start("--store", "memory://", "--log-level", "debug")
    procs.append(proc)
    alice = Peer(proc.url, "alice")
    await alice.connect({"username": "alice"})
    await alice.call("private message", {"content": "hi", "to": alice.user_id})
    await alice.close()
    for _ in range(2):
        again = Peer(proc.url)
        await again.connect({"sessionID": alice.session_id})
        await again.call("private message", {"content": "x", "to": "nobody"})
        await again.close()
    code, out, err = await proc.stop()
    assert code == 0
    assert alice.user_id in err  # debug logging is on and does name users
    assert alice.session_id not in out + err


async def test_json_logs_are_one_object_per_line_without_session_ids(procs: list[Proc]) -> None:
    proc = await Proc.start("--store", "memory://", "--log-level", "debug", "--log-format", "json")
    procs.append(proc)
    alice = Peer(proc.url, "alice")
    await alice.connect({"username": "alice"})
    await alice.call("private message", {"content": "hi", "to": alice.user_id})
    await alice.close()
    again = Peer(proc.url)
    await again.connect({"sessionID": alice.session_id})
    await again.close()
    bad = Peer(proc.url)  # a sessionID the server does not know, shaped like a real one
    with pytest.raises(Exception):  # noqa: B017 (refused: how the client says it varies)
        await bad.connect({"sessionID": "f" * 32})
    await bad.close()
    code, out, err = await proc.stop()
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) >= 3  # started, connections, stopped
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "logger", "msg"} <= entry.keys(), entry
    assert alice.user_id in err  # debug logging names users
    assert alice.session_id not in out + err
    assert "f" * 32 not in err


def test_a_secret_shaped_string_is_redacted_in_both_formats() -> None:
    import logging

    from chat_server.logs import JsonLines, Redacting

    secret = "0123456789abcdef" * 2
    try:
        raise ValueError(f"bad session {secret}")
    except ValueError:
        record = logging.LogRecord(
            "chat_server", logging.ERROR, __file__, 1, "auth %s", (secret,), sys.exc_info()
        )
    for formatter in (Redacting("%(message)s"), JsonLines()):
        text = formatter.format(record)
        assert secret not in text and "[redacted]" in text
    assert json.loads(JsonLines().format(record))["exc"].startswith("Traceback")
    user_id = "0123456789abcdef"  # 16 hex: a public userID stays
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, user_id, None, None)
    assert user_id in JsonLines().format(plain)


def test_help_lists_every_option_with_its_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_config(["--help"], env={})
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag, var in [
        ("--host", "CHAT_SERVER_HOST"),
        ("--port", "CHAT_SERVER_PORT"),
        ("--store", "CHAT_SERVER_STORE"),
        ("--history-limit", "CHAT_SERVER_HISTORY_LIMIT"),
        ("--log-level", "CHAT_SERVER_LOG_LEVEL"),
        ("--unique-usernames", "CHAT_SERVER_UNIQUE_USERNAMES"),
        ("--max-message-length", "CHAT_SERVER_MAX_MESSAGE_LENGTH"),
        ("--max-payload", "CHAT_SERVER_MAX_PAYLOAD"),
        ("--retention", "CHAT_SERVER_RETENTION"),
        ("--workers", "CHAT_SERVER_WORKERS"),
        ("--bus", "CHAT_SERVER_BUS"),
        ("--max-connections-per-user", "CHAT_SERVER_MAX_CONNECTIONS_PER_USER"),
        ("--cors-origin", "CHAT_SERVER_CORS_ORIGIN"),
        ("--certfile", "CHAT_SERVER_CERTFILE"),
        ("--keyfile", "CHAT_SERVER_KEYFILE"),
    ]:
        assert flag in text and var in text


def test_defaults_flags_and_environment() -> None:
    default = parse_config([], env={})
    assert (default.host, default.port, default.history_limit) == ("127.0.0.1", 3000, 100)
    assert default.store.startswith("sqlite:///") and default.store.endswith("chat.db")
    env = {"CHAT_SERVER_PORT": "4000", "CHAT_SERVER_UNIQUE_USERNAMES": "yes"}
    cfg = parse_config([], env=env)
    assert cfg.port == 4000 and cfg.unique_usernames
    cfg = parse_config(["--port", "5000", "--no-unique-usernames"], env=env)
    assert cfg.port == 5000 and not cfg.unique_usernames  # flags beat the environment


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--port", "70000"], {}),
        (["--history-limit", "-1"], {}),
        (["--log-level", "loud"], {}),
        (["--workers", "2", "--store", "sqlite:///tmp/x.db"], {}),
        (["--workers", "0"], {}),
        (["--retention", "-1"], {}),
        (["--certfile", "/x.pem"], {}),
        ([], {"CHAT_SERVER_PORT": "abc"}),
        ([], {"CHAT_SERVER_UNIQUE_USERNAMES": "perhaps"}),
    ],
)
def test_bad_settings_are_refused_with_a_message(
    argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_config(argv, env=env)
    assert exc.value.code not in (0, None)
    message = capsys.readouterr().err + str(exc.value.code)
    assert "chat-server" in message
    for var in env:
        assert var in message  # a bad environment variable is named


def test_a_bad_store_url_exits_with_a_message(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "chat_server", "--port", "0", "--store", "mongo://x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "unsupported store URL" in done.stderr and "Traceback" not in done.stderr


def test_passwords_in_store_urls_are_not_printed() -> None:
    assert redact_url("redis://:hunter2@host:6379/0") == "redis://:***@host:6379/0"
    assert redact_url("redis://me:hunter2@host/0") == "redis://me:***@host/0"
    assert redact_url("memory://") == "memory://"


def test_a_worker_that_keeps_dying_young_is_restarted_ever_more_slowly() -> None:
    from chat_server.workers import restart_delay

    assert [restart_delay(n) for n in range(8)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
