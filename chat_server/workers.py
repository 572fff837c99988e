"""``--workers N``: a master that runs N chat-server processes on one port (SO_REUSEPORT),
restarts each when it dies (ever more slowly if it keeps dying young), and stops them all
on SIGINT/SIGTERM. It serves nothing itself; the workers share data through Redis."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from chat_server import __version__
from chat_server.config import Config, redact_url

log = logging.getLogger("chat_server")

YOUNG_S = 10.0  # a worker that dies sooner than this after starting died young


def restart_delay(young_deaths: int) -> float:
    """Seconds before restarting a worker that died ``young_deaths`` times in a row
    soon after starting: at once the first time it dies of old age, then 0.5, 1, 2 ... 10."""
    return min(10.0, 0.25 * 2**young_deaths) if young_deaths else 0.0


@dataclass
class Worker:
    """One worker process and its restart bookkeeping."""

    command: list[str]
    proc: subprocess.Popen[bytes] = field(init=False)
    started: float = 0.0
    young_deaths: int = 0
    restart_at: float | None = None

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command)
        self.started, self.restart_at = time.monotonic(), None

    def tend(self, now: float) -> None:
        """Restart the process when its time has come; notice when it has died."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        code = self.proc.poll()
        if code is None:
            return
        self.young_deaths = self.young_deaths + 1 if now - self.started < YOUNG_S else 0
        delay = restart_delay(self.young_deaths)
        log.warning("worker %d exited with %s; restarting in %.1fs", self.proc.pid, code, delay)
        self.restart_at = now + delay


def wait_accepting(
    host: str, port: int, workers: list[Worker], stopped: Callable[[], bool], timeout: float = 60
) -> bool:
    """Wait until a worker accepts connections on the port (False: all died, or stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopped():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            if all(w.proc.poll() is not None for w in workers):
                log.error("every worker exited before listening")
                return False
            time.sleep(0.05)
    return False


def stop_all(workers: list[Worker], within: float = 15.0) -> None:
    """SIGTERM every worker; SIGKILL what is still running after ``within`` seconds."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.terminate()
    deadline = time.monotonic() + within
    for w in workers:
        try:
            w.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()


def run_workers(config: Config, argv: Sequence[str]) -> int:
    """The master: start, tend and stop the workers."""
    # hold the port (with SO_REUSEPORT, not listening) so that port 0 means one port
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((config.host, config.port))
    port = holder.getsockname()[1]
    command = [sys.executable, "-m", "chat_server", *argv]
    command += ["--port", str(port), "--workers", "1", "--reuse-port"]
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [Worker(command) for _ in range(config.workers)]
    if wait_accepting(config.host, port, workers, lambda: stopping):
        print(
            f"chat-server {__version__} listening on {config.scheme}://{config.host}:{port} "
            f"({config.workers} workers)",
            flush=True,
        )
        print(f"store: {redact_url(config.store)}", flush=True)
        while not stopping:
            now = time.monotonic()
            for w in workers:
                w.tend(now)
            time.sleep(0.1)
    print("shutting down", flush=True)
    stop_all(workers)
    holder.close()
    return 0
