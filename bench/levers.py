#!/usr/bin/env python3
"""Each speed lever, measured: chat-server with levers turned on one after another.

    .venv/bin/python bench/levers.py [--loadgen DIR] [--scenarios throughput,storm]

Starts chat-server (fresh SQLite file) once per variant with CHAT_SERVER_BENCH_OFF set,
drives it with ../shared/bench/loadgen.js (the compare.py scenarios) and prints, per
variant: messages/s, p99, server CPU ms per message (throughput), connect seconds, p99
and RSS (storm). Variants are cumulative: stock python-socketio first, all levers last.
Needs node and the loadgen's node_modules (compare.py installs them into its cache).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from probe import cpu_s, free_port, rss_mb

LEVERS = ["fanout", "compression", "orjson", "uvloop", "gc", "leanread", "textpacket", "switch"]
SCENARIOS = {
    "throughput": ["--users", "50", "--messages", "400", "--window", "4"],
    "storm": ["--users", "1000", "--rate", "1000", "--seconds", "8"],
}
ROOT = Path(__file__).resolve().parents[1]


def run(off: list[str], scenario: str, loadgen: Path, tmp: Path) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "CHAT_SERVER_BENCH_OFF": ",".join(off)}
    db = tmp / f"levers-{port}.db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chat_server",
            "--port",
            str(port),
            "--store",
            f"sqlite://{db}",
            "--log-level",
            "warning",
            "--rate-per-second",
            "0",  # flood control off: the load generator sends far faster than a person
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        c0 = cpu_s(proc.pid)
        out = subprocess.run(
            [
                "node",
                str(loadgen / "loadgen.js"),
                "--url",
                f"http://127.0.0.1:{port}",
                *SCENARIOS[scenario],
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        c1 = cpu_s(proc.pid)
        res: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        res["cpu_ms_per_msg"] = round((c1 - c0) * 1000 / max(1, res.get("received", 1)), 4)
        res["rss_mb"] = rss_mb(proc.pid)
        return res
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--loadgen", type=Path, default=Path(tempfile.gettempdir()) / "chat-bench-cache" / "loadgen"
    )
    ap.add_argument("--scenarios", default="throughput,storm")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(len(LEVERS) + 1):
            off = LEVERS[i:]
            name = "stock" if i == 0 else "+" + LEVERS[i - 1]
            row: dict[str, object] = {"variant": name}
            for scenario in a.scenarios.split(","):
                r = run(off, scenario, a.loadgen, Path(tmp))
                if scenario == "throughput":
                    row.update(
                        msgs_per_s=r["msgs_per_s"],
                        tp_p99_ms=r["p99_ms"],
                        cpu_ms_per_msg=r["cpu_ms_per_msg"],
                    )
                else:
                    row.update(
                        connect_s=r["connect_s"],
                        storm_p99_ms=r["p99_ms"],
                        storm_rss_mb=r["rss_mb"],
                        lost=r["lost"],
                    )
            rows.append(row)
            print(json.dumps(row), flush=True)
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row.get(k, "")) for k in keys))


if __name__ == "__main__":
    main()
