"""Flood control: one token bucket per user and kind of event, in each process.

A user may send ``burst`` events at once, then ``rate`` per second. What happens to an
event over the limit depends on whether its sender can be told:

- with an ack (chat-tui, any client that asks for one), it is answered at once with
  ``{error: "rate limited", retryAfter: <ms>}`` and nothing is stored: the client retries
  after that long, as it would after ``unavailable``;
- without an ack (the tutorial's clients), there is nobody to tell, so the event waits
  until a token is free. Events of a connection are handled one after another, so this
  holds up only that connection's reading: its later events queue in its own socket
  buffers, the sender is slowed down to the rate, and nothing is lost.

Either way a flooding client costs the server one cheap check per event and cannot
crowd out anyone else. With several processes (Redis) each process has its own buckets,
so a user connected to N processes can send up to N times the rate.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable

# Whether the client event being handled asked for an ack. Set by the transport
# (transport.engine.ChatSocketServer) around each event; handlers run inline, so they see their own
# event's value. Unknown (False) on the stock paths: over the rate, every event then
# waits for its token, acked or not (nothing is refused, nothing lost).
ACK_WANTED: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_wanted", default=False)


class TokenBuckets:
    """Token buckets keyed by user. ``rate <= 0`` turns the limit off."""

    def __init__(
        self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = max(1, burst)
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there is."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def prune(self) -> None:
        """Forget the buckets that have filled up again (as good as new)."""
        now = self._clock()
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
