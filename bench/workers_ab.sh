#!/bin/bash
# A/B of `chat-server --workers 2` on Redis under compare.py's throughput load.
#
# usage: bench/workers_ab.sh ROUNDS TREE...
#   TREE: a folder holding a chat_server package (e.g. a `git worktree` of another
#   commit), run with PYTHONPATH=TREE; the trees alternate within each round.
# env: REDIS_PORT (6392; a running redis-server, flushed before each run),
#      USERS (50), MSGS (1000 per user), OFF (CHAT_SERVER_BENCH_OFF for every run)
# prints per run: messages/s, p99, CPU ticks of the master and workers, of redis-server.
# Needs the loadgen compare.py installs (/tmp/chat-bench-cache/loadgen).
set -u
rounds=$1; shift
port=${REDIS_PORT:-6392}
here=$(cd "$(dirname "$0")/.." && pwd)
loadgen=/tmp/chat-bench-cache/loadgen/loadgen.js
rpid=$(pgrep -f "redis-server.*:$port" | head -1)
ticks() { for p in "$@"; do awk '{print $14+$15}' "/proc/$p/stat"; done | paste -sd+ | bc; }
for r in $(seq "$rounds"); do
  for tree in "$@"; do
    redis-cli -p "$port" FLUSHALL >/dev/null
    free=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    # from inside the tree: `python -m` puts the current folder first on sys.path, ahead
    # of PYTHONPATH (run from a checkout, every tree would run the checkout's code)
    (cd "$tree" && CHAT_SERVER_BENCH_OFF=${OFF:-} PYTHONPATH=$tree exec "$here/.venv/bin/python" -m chat_server \
      --port "$free" --workers 2 --store "redis://127.0.0.1:$port/0" --log-level warning \
      --rate-per-second 0 --max-handshakes-per-ip 0 --max-new-users-per-ip 0 \
      --max-connections-per-ip 0) >/dev/null 2>&1 &
    master=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$free") 2>/dev/null && break; sleep 0.1; done
    sleep 1  # the workers are up
    procs="$master $(pgrep -P $master)"
    c0=$(ticks $procs); r0=$(ticks "$rpid")
    out=$(node "$loadgen" --url "http://127.0.0.1:$free" --users "${USERS:-50}" \
      --messages "${MSGS:-1000}" --window 4)
    c1=$(ticks $procs); r1=$(ticks "$rpid")
    kill "$master"; wait "$master" 2>/dev/null
    echo "$tree round=$r $(echo "$out" | grep -o '"msgs_per_s":[0-9]*')" \
      "$(echo "$out" | grep -o '"p99_ms":[0-9.]*') cpu_ticks=$((c1 - c0))" \
      "redis_ticks=$((r1 - r0)) $(echo "$out" | grep -o '"lost":[0-9]*')"
  done
done
