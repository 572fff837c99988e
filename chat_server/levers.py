"""Speed levers that can be turned off for an A/B measurement (docs/performance.md)."""

from __future__ import annotations

import os


def levers_off() -> set[str]:
    """The levers named in CHAT_SERVER_BENCH_OFF, e.g.
    ``fanout,compression,orjson,uvloop,gc,switch,leanread,textpacket,routing,takeevent``.
    Empty in normal use."""
    return {x.strip() for x in os.environ.get("CHAT_SERVER_BENCH_OFF", "").split(",") if x}
