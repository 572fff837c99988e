"""chat-server's log output: text for people, or JSON lines for log collectors
(``--log-format json``: one object per line with ``ts``, ``level``, ``logger``, ``msg``,
and ``exc`` when there is a traceback).

SessionIDs are passwords and are never logged; as a second line of defence every record,
in both formats, has anything shaped like one (32 hexadecimal characters: a sessionID, or
a Socket.IO sid of that length) replaced by ``[redacted]`` before it is written, its
traceback included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Final

LOG_FORMATS: Final = ("text", "json")
SECRET: Final = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32}(?![0-9A-Za-z])")
REDACTED: Final = "[redacted]"
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    return SECRET.sub(REDACTED, text)


class Redacting(logging.Formatter):
    """The text format, with secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonLines(logging.Formatter):
    """One JSON object per record, on one line, secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def setup(level: str, fmt: str) -> None:
    """Send the logs to standard error in ``fmt`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else Redacting(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # aiohttp's access log lines carry nothing secret but are noise at info level
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
