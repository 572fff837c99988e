#!/bin/bash
# A/B of single-process chat-server on SQLite under compare.py's throughput load.
#
# usage: bench/sqlite_ab.sh ROUNDS TREE... [-- LOADGEN ARGS]
#   TREE: a folder holding a chat_server package (e.g. a `git worktree` of another
#   commit), run with PYTHONPATH=TREE; the trees alternate within each round, each run on
#   a fresh database. LOADGEN ARGS replace compare.py's throughput load (`--users 50
#   --messages 400 --window 4`), e.g. `-- --history 20000`.
# env: OFF (CHAT_SERVER_BENCH_OFF for every run)
# prints per run the loadgen's figures, the server's CPU ticks during the load and in the
# 3 s after it (work the server left for later) and its RSS when the load ended. Needs the
# loadgen compare.py installs (/tmp/chat-bench-cache/loadgen).
set -u
rounds=$1; shift
trees=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do trees+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
load=("$@")
[ ${#load[@]} -eq 0 ] && load=(--users 50 --messages 400 --window 4)
here=$(cd "$(dirname "$0")/.." && pwd)
loadgen=/tmp/chat-bench-cache/loadgen/loadgen.js
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
for r in $(seq "$rounds"); do
  for tree in "${trees[@]}"; do
    rm -f "$work"/db*
    free=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    # from inside the tree: `python -m` puts the current folder first on sys.path, ahead
    # of PYTHONPATH (run from a checkout, every tree would run the checkout's code)
    (cd "$tree" && CHAT_SERVER_BENCH_OFF=${OFF:-} PYTHONPATH=$tree exec "$here/.venv/bin/python" -m chat_server \
      --port "$free" --store "sqlite:///$work/db.sqlite" --log-level warning \
      --rate-per-second 0 --max-handshakes-per-ip 0 --max-new-users-per-ip 0 \
      --max-connections-per-ip 0) >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$free") 2>/dev/null && break; sleep 0.1; done
    c0=$(ticks $pid)
    out=$(node "$loadgen" --url "http://127.0.0.1:$free" "${load[@]}" | tail -1)
    c1=$(ticks $pid)
    rss=$(awk '/^VmRSS:/{print $2}' "/proc/$pid/status")
    sleep 3
    c2=$(ticks $pid)
    kill "$pid"; wait "$pid" 2>/dev/null
    pid=
    echo "$tree round=$r $out cpu_ticks=$((c1 - c0)) after=$((c2 - c1)) rss_kb=$rss"
  done
done
