"""How cost grows with the number of users: the storm at 1,000, 2,000 and 4,000 users
and the throughput load at 50, 200 and 800 users, against the Node.js reference and
chat-server, with compare.py's load generator run directly (issue 16). Writes the figures
as JSON and draws them as an SVG chart (no plotting library needed).

    .venv/bin/python bench/growth.py --out bench/growth.json --svg docs/growth.svg \\
        [--server-cmd 'chat-server --port {port} ...'] [--runs 1]
    .venv/bin/python bench/growth.py --roster-only --out bench/growth.json ...

Also, chat-server only: a newcomer's connect (connect until its ``users`` event) on a
store that has seen 1,000, 4,000 and 16,000 users (all offline, written straight into
the SQLite file): with the bounded roster (--roster-limit, 1,000) it should not grow
with the users ever seen. ``--roster-only`` measures just that and keeps the rest of
--out.

Needs what compare.py needs (node, npm; its packages are installed into its cache folder).
Servers run fresh for every point, reference and chat-server alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from probe import ServerProcess, client_from

ROOT = Path(__file__).resolve().parent.parent
COMPARE = ROOT.parent / "shared" / "bench" / "compare.py"

DEFAULT_CMD = (
    "chat-server --port {port} --store sqlite:///{tmp}/growth-{port}.db --log-level warning"
    " --rate-per-second 0 --max-handshakes-per-ip 0 --max-new-users-per-ip 0"
    " --max-connections-per-ip 0"
)
ROSTER = [1000, 4000, 16000]
STORM = [1000, 2000, 4000]
THROUGHPUT = [50, 200, 800]
# per point: the loadgen's arguments (the storm as compare.py runs it, 8 s at 1,000
# messages/s; the throughput load keeps 80,000 messages in all, so the points compare)
LOADS = {
    "storm": lambda n: ["--users", str(n), "--rate", "1000", "--seconds", "8"],
    "throughput": lambda n: ["--users", str(n), "--messages", str(80_000 // n), "--window", "4"],
}
# what each chart shows: (scenario, figure, label)
PANELS = [
    ("storm", "connect_s", "storm: seconds to connect everyone"),
    ("storm", "rss_mb", "storm: server memory (MB)"),
    ("storm", "p99_ms", "storm: p99 delivery latency (ms)"),
    ("throughput", "msgs_per_s", "throughput: messages per second"),
    ("throughput", "cpu_ms_per_msg", "throughput: server CPU ms per message"),
    ("throughput", "p99_ms", "throughput: p99 delivery latency (ms)"),
    ("roster", "users_event_ms", "a newcomer's connect (ms), users ever seen"),
]


def load_compare() -> ModuleType:
    """compare.py as a module (its Server, CPU and RSS helpers), without writing a
    __pycache__ into the read-only shared folder."""
    sys.dont_write_bytecode = True
    spec = importlib.util.spec_from_file_location("compare", COMPARE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_point(cmp: ModuleType, loadgen: Path, srv: Any, args: list[str]) -> dict[str, Any]:
    c0 = cmp.cpu_s(srv.proc.pid)
    out = subprocess.run(
        ["node", str(loadgen / "loadgen.js"), "--url", srv.url, *args],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    c1 = cmp.cpu_s(srv.proc.pid)
    try:
        res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": (out.stdout + out.stderr)[-300:]}
    if res.get("received"):
        res["cpu_ms_per_msg"] = round((c1 - c0) * 1000 / res["received"], 4)
    res["rss_mb"] = cmp.rss_mb(srv.proc.pid)
    return res


def measure(cmd: str, runs: int, tmp: Path) -> dict[str, dict[str, dict[int, dict[str, Any]]]]:
    """{scenario: {server: {users: median figures}}}."""
    cmp = load_compare()
    loadgen = cmp.npm_ready(COMPARE.parent, "loadgen")
    ref = cmp.npm_ready(cmp.REF, "node-server")
    sizes = {"storm": STORM, "throughput": THROUGHPUT}
    out: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for scenario, users in sizes.items():
        out[scenario] = {"reference": {}, "chat-server": {}}
        for n in users:
            got: dict[str, list[dict[str, Any]]] = {"reference": [], "chat-server": []}
            for _ in range(runs):
                for name in got:
                    srv = (
                        cmp.Server("node server.js", ref)
                        if name == "reference"
                        else cmp.Server(cmd.replace("{tmp}", str(tmp)), None)
                    )
                    try:
                        got[name].append(one_point(cmp, loadgen, srv, LOADS[scenario](n)))
                    finally:
                        srv.stop()
            for name, results in got.items():
                figures = {
                    key: statistics.median(r[key] for r in results)
                    for key in results[0]
                    if all(isinstance(r.get(key), int | float) for r in results)
                }
                out[scenario][name][n] = figures
                print(scenario, n, name, json.dumps(figures), flush=True)
    return out


def roster(seen: list[int], tries: int = 7) -> dict[str, dict[int, dict[str, Any]]]:
    """chat-server: a newcomer's connect on a store that has seen N users."""
    from chat_server.stores.sqlite import SqliteStore
    from chat_server.tokens import hash_session_id

    async def fill(path: Path, n: int) -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            for i in range(n):
                await store.create_user(f"seen-{i}", f"seen{i}", hash_session_id(f"s{i}"))
        finally:
            await store.close()

    async def newcomer(url: str, name: str) -> float:
        sio = client_from(None)
        got = asyncio.Event()
        sio.on("users", lambda _users: got.set())
        started = time.perf_counter()
        await sio.connect(url, auth={"username": name}, transports=["websocket"])
        await asyncio.wait_for(got.wait(), 30)
        took = (time.perf_counter() - started) * 1000
        await sio.disconnect()
        return took

    out: dict[int, dict[str, Any]] = {}
    for n in seen:
        with tempfile.TemporaryDirectory(prefix="growth-roster-") as tmp:
            path = Path(tmp) / "chat.db"
            asyncio.run(fill(path, n))
            srv = ServerProcess(
                "--store", f"sqlite:///{path}", "--log-level", "warning",
                "--max-new-users-per-ip", "0", "--max-handshakes-per-ip", "0",
            )  # fmt: skip
            try:
                times = [asyncio.run(newcomer(srv.url, f"new{k}")) for k in range(tries)]
                out[n] = {"users_event_ms": round(statistics.median(times[1:]), 2)}
                out[n]["rss_mb"] = srv.rss_mb
            finally:
                srv.stop()
        print("roster", n, json.dumps(out[n]), flush=True)
    return {"chat-server": out}


def tick(v: float) -> str:
    """An axis label: whole numbers from 100 up (12,000, not 1.2e+04)."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def svg(data: dict[str, Any]) -> str:
    """Small multiples: one panel per figure, users on the x axis, one line per server."""
    width, height, cols = 330, 210, 3
    pad_l, pad_r, pad_t, pad_b = 62, 22, 28, 34
    colours = {"reference": "#1f77b4", "chat-server": "#d62728"}
    rows = (len(PANELS) + cols - 1) // cols
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * cols}" '
        f'height="{height * rows + 24}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for name, colour in colours.items():
        x = 10 + 130 * list(colours).index(name)
        parts.append(f'<rect x="{x}" y="8" width="14" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{x + 18}" y="13">{name}</text>')
    for i, (scenario, figure, label) in enumerate(PANELS):
        ox, oy = (i % cols) * width, (i // cols) * height + 24
        series = {
            name: sorted(
                (int(n), v[figure])
                for n, v in by_users.items()
                if isinstance(v.get(figure), int | float)
            )
            for name, by_users in data.get(scenario, {}).items()
        }
        xs = sorted({n for points in series.values() for n, _ in points})
        top = max((y for points in series.values() for _, y in points), default=1) or 1
        x0, x1, y0, y1 = ox + pad_l, ox + width - pad_r, oy + height - pad_b, oy + pad_t

        def px(n: int, xs: list[int] = xs, x0: float = x0, x1: float = x1) -> float:
            return x0 + (x1 - x0) * (xs.index(n) / max(1, len(xs) - 1))

        def py(v: float, top: float = top, y0: float = y0, y1: float = y1) -> float:
            return y0 - (y0 - y1) * v / (top * 1.1)

        parts.append(f'<text x="{ox + pad_l}" y="{oy + 16}" font-weight="bold">{label}</text>')
        parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#888"/>')
        parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#888"/>')
        for n in xs:
            parts.append(f'<text x="{px(n)}" y="{y0 + 14}" text-anchor="middle">{n}</text>')
        parts.append(f'<text x="{(x0 + x1) / 2}" y="{y0 + 27}" text-anchor="middle">users</text>')
        for frac in (0.0, 0.5, 1.0):
            v = top * frac
            parts.append(
                f'<text x="{x0 - 4}" y="{py(v) + 4}" text-anchor="end">{tick(v)}</text>'
                f'<line x1="{x0}" y1="{py(v)}" x2="{x1}" y2="{py(v)}" stroke="#eee"/>'
            )
        for name, points in series.items():
            if not points:
                continue
            path = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colours[name]}" stroke-width="2"/>'
            )
            for n, v in points:
                parts.append(
                    f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{colours[name]}"/>'
                )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--server-cmd", default=DEFAULT_CMD, help="{port} and {tmp} are replaced")
    ap.add_argument("--runs", type=int, default=1, help="runs per point (the median is kept)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "growth.json")
    ap.add_argument("--svg", type=Path, default=ROOT / "docs" / "growth.svg")
    ap.add_argument("--redraw", action="store_true", help="only draw the chart from --out")
    ap.add_argument("--roster-only", action="store_true", help="only the newcomer's connect")
    a = ap.parse_args()
    if a.redraw:
        data = json.loads(a.out.read_text())
    else:
        data = json.loads(a.out.read_text()) if a.roster_only and a.out.exists() else {}
        if not a.roster_only:
            with tempfile.TemporaryDirectory(prefix="growth-") as tmp:
                data = measure(a.server_cmd, a.runs, Path(tmp))
        data["roster"] = roster(ROSTER)
        a.out.write_text(json.dumps(data, indent=1) + "\n")
    a.svg.write_text(svg(data))
    print(f"wrote {a.out} and {a.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
