#!/usr/bin/env python3
"""What the traffic of live clients (read markers, typing) costs the message path.

    .venv/bin/python bench/live.py [--store sqlite] [--runs 3] [--users 50] [--messages 400]

Starts chat-server (flood control and per-address limits off, as for compare.py) and runs
bench/live.js against it in four modes, alternating, ``--runs`` times each: plain
messages; as chat-tui behaves (each user reads the one conversation on its screen, one
``read`` per 300 ms at most, and says it is typing there every 3 s); every received
message answered with a ``read`` of it (the worst case: a client that reads each message
on its own); and that plus a ``typing`` before every message. Prints the medians of
messages/s, p99 delivery latency and server CPU per message, and each mode's ratio to the
plain one. Markers share the messages' group commit, so a read costs what any event does
(one in, one or two out): what matters is how many a client sends.

Needs node; socket.io-client comes from tests/js (``make test`` installs it) or
compare.py's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from probe import ROOT, ServerProcess, cpu_s

MODES = {
    "plain": [],
    "like-tui": ["--like-tui"],
    "reads": ["--reads"],
    "reads+typing": ["--reads", "--typing"],
}
FIGURES = ("msgs_per_s", "p99_ms", "cpu_ms_per_msg")


def node_path() -> str:
    cache = Path(
        os.environ.get("CHAT_BENCH_CACHE", Path(tempfile.gettempdir()) / "chat-bench-cache")
    )
    for folder in (ROOT / "tests" / "js" / "node_modules", cache / "loadgen" / "node_modules"):
        if (folder / "socket.io-client").is_dir():
            return str(folder)
    raise SystemExit("socket.io-client not found: run `make test` once (it installs tests/js)")


def run_once(store: str, mode: list[str], users: int, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = "memory://" if store == "memory" else f"sqlite:///{tmp}/live.db"
        server = ServerProcess(
            *("--store", url, "--rate-per-second", "0", "--log-level", "warning"),
            *("--max-handshakes-per-ip", "0", "--max-new-users-per-ip", "0"),
            *("--max-connections-per-ip", "0"),
        )
        try:
            before = cpu_s(server.proc.pid)
            out = subprocess.run(
                [
                    *("node", str(ROOT / "bench" / "live.js"), "--url", server.url),
                    *("--users", str(users), "--messages", str(messages), *mode),
                ],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "NODE_PATH": node_path()},
                timeout=300,
            )
            cpu = cpu_s(server.proc.pid) - before
        finally:
            server.stop()
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["lost"]:
        raise SystemExit(f"messages lost: {figures}")
    figures["cpu_ms_per_msg"] = round(cpu * 1000 / figures["received"], 4)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.runs):
        for mode, flags in MODES.items():  # alternating: the machine's noise hits all alike
            results[mode].append(run_once(args.store, flags, args.users, args.messages))
    medians = {
        mode: {f: statistics.median(r[f] for r in runs) for f in FIGURES}
        for mode, runs in results.items()
    }
    print(f"store {args.store}, {args.users} users x {args.messages} messages, {args.runs} runs")
    print(f"{'mode':<14}" + "".join(f"{f:>16}" for f in FIGURES) + f"{'msgs/s vs plain':>18}")
    for mode, m in medians.items():
        ratio = m["msgs_per_s"] / medians["plain"]["msgs_per_s"]
        print(f"{mode:<14}" + "".join(f"{m[f]:>16}" for f in FIGURES) + f"{ratio:>18.3f}")
    for mode in ("like-tui", "reads"):
        last = results[mode][-1]
        print(
            f"(last {mode} run: {last['reads_sent']} reads sent, {last['read_acks']} acked,"
            f" {last['typing_sent']} typing)"
        )


if __name__ == "__main__":
    main()
