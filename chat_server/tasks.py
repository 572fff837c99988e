"""Stopping the server's own background tasks, even when a library swallowed the cancel.

On Python 3.11 ``asyncio.wait_for`` returns the inner result, and drops a cancellation
that arrived in the same loop turn (fixed in 3.12). redis-py wraps every socket write in
``wait_for`` when a socket timeout is set, so a task cancelled while it sends a Redis
command can carry on as if nothing happened: a loop then reaches its next sleep (an hour,
for retention and pruning) and a shutdown that awaits it hangs. ``cancel_and_wait``
cancels again at each round until the tasks are done, and gives up (with a warning)
instead of hanging.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)

ROUND_S = 0.1  # how long one cancellation gets before the next is sent


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Take a finished task's error, so none is reported as never retrieved."""
    if not task.cancelled():
        task.exception()


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[Any]], within: float = 5.0, warn: bool = True
) -> bool:
    """Cancel ``tasks`` and wait for them to end, cancelling again every ``ROUND_S``
    while some are still running; ``within`` seconds at most. Their results and errors
    are retrieved (none is logged as never retrieved, even one that ends after this gave
    up). True when all have ended; else a warning, unless ``warn`` is False."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            for task in pending:
                task.add_done_callback(_retrieve)
            if warn:
                names = ", ".join(sorted(task.get_name() for task in pending))
                log.warning("background tasks did not stop within %.0f s: %s", within, names)
            return False
        _, pending = await asyncio.wait(pending, timeout=min(ROUND_S, left))
    for task in tasks:
        _retrieve(task)
    return True
