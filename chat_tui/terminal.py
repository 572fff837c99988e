"""The one place chat-tui reaches into Textual's internals, twice:

- writing an escape sequence of its own (a desktop notification) to the terminal.
  Textual has no public call for it; its own ``App.bell`` and ``copy_to_clipboard``
  write through the driver the same way. tests/tui/test_notify.py is the canary: it
  fails when a Textual release moves ``App._driver.write``. Without it, nothing is
  written (the toast and the bell still tell the user).
- Alt+Enter as xterm, GNOME Terminal, iTerm2 and tmux send it: ESC then CR. Textual's
  parser knows no such sequence, reissues it as keys, and drops the Alt of a key it
  maps by name: Alt+Enter arrives as Enter and sends the message. One entry in its
  table of sequences (``textual._ansi_sequences.ANSI_SEQUENCES_KEYS``) makes it arrive
  as ``alt+enter``. tests/tui/test_keys.py is the canary (Textual's own parser, and a
  real terminal); without the entry, Ctrl+J still starts a new line.
"""

from __future__ import annotations

import enum
from typing import Any, cast

from textual.app import App


class ExtraKey(enum.StrEnum):
    """Key names for sequences Textual's table lacks (it reads a member's ``value``)."""

    ALT_ENTER = "alt+enter"


# what terminals send that Textual's table does not know
EXTRA_SEQUENCES = {"\x1b\r": (ExtraKey.ALT_ENTER,)}


def teach_keys() -> bool:
    """Add EXTRA_SEQUENCES to Textual's table of key sequences (idempotent); False when
    the table is not where this Textual release kept it."""
    try:
        from textual import _ansi_sequences
    except ImportError:
        return False
    table = getattr(_ansi_sequences, "ANSI_SEQUENCES_KEYS", None)
    if not isinstance(table, dict):
        return False
    for sequence, keys in EXTRA_SEQUENCES.items():
        cast(dict[str, object], table).setdefault(sequence, keys)
    return True


def write_sequence(app: App[Any], sequence: str) -> bool:
    """Write ``sequence`` to the app's terminal; False when there is no way to."""
    driver = getattr(app, "_driver", None)
    write = getattr(driver, "write", None)
    if app.is_headless or not callable(write):
        return False
    write(sequence)
    return True
