"""The one place chat-tui reaches into Textual's internals: writing an escape sequence
of its own (a desktop notification) to the terminal.

Textual has no public call for it; its own ``App.bell`` and ``copy_to_clipboard`` write
through the driver the same way. tests/tui/test_notify.py is the canary: it fails when
a Textual release moves ``App._driver.write``. Without it, nothing is written (the toast
and the bell still tell the user).
"""

from __future__ import annotations

from typing import Any

from textual.app import App


def write_sequence(app: App[Any], sequence: str) -> bool:
    """Write ``sequence`` to the app's terminal; False when there is no way to."""
    driver = getattr(app, "_driver", None)
    write = getattr(driver, "write", None)
    if app.is_headless or not callable(write):
        return False
    write(sequence)
    return True
