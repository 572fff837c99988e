"""Telling the user about new messages without flooding them: a toast, a bell and,
opt-in, a desktop notification through the terminal, at most one per conversation every
few seconds, none for a muted conversation.

Desktop notifications are terminal escape sequences: OSC 777 (``notify;title;body``:
foot, kitty, Ghostty, WezTerm, rxvt-unicode with its extension, VTE terminals) and OSC 9
(iTerm2, Windows Terminal, ConEmu, kitty). Terminals that know neither ignore them. tmux
passes them on only with ``set -g allow-passthrough on``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chat_tui.render import one_line


@dataclass
class Throttle:
    """At most one announcement per conversation every ``every`` seconds; the ones held
    back are counted and mentioned in the next."""

    every: float = 5.0
    _last: dict[str, float] = field(default_factory=dict)
    _held: dict[str, int] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> int | None:
        """None: stay quiet (held back and counted); otherwise announce now, and this
        many earlier messages were held back since the last announcement."""
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)


def _clean(text: str, limit: int) -> str:
    """Text from a stranger made safe inside an escape sequence: one line, no control
    characters (ESC, BEL and ST would end or hijack the sequence), no ``;`` (OSC 777's
    field separator)."""
    flat = one_line(text, limit)  # control characters are already visible symbols here
    return "".join(ch for ch in flat if ch.isprintable()).replace(";", ",")


def desktop_sequence(title: str, body: str) -> str:
    """OSC 777 then OSC 9, each ended by BEL, for one notification."""
    t, b = _clean(title, 60), _clean(body, 160)
    return f"\x1b]777;notify;{t};{b}\x07\x1b]9;{t}: {b}\x07"
