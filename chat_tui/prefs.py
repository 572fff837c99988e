"""What the user keeps per profile across restarts: which conversations are muted or
hidden, the draft typed in each, which one was open, and the roster order and theme
chosen in the app. One small JSON file beside the session file, private like it, changed
under the same kind of lock as the outbox (two windows of one profile share it: each
change is a read-change-write of its own part)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chat_tui.session_file import locked, read_json, with_suppressed_unlink, write_private

DRAFT_MAX = 100_000  # characters of one draft kept on disk (a paste gone wrong)
SORTS = ("recent", "name")  # the roster's orders: most recent activity first, or by name


@dataclass(slots=True)
class Saved:
    """The file's content; anything malformed in it is left out."""

    muted: set[str] = field(default_factory=set)
    drafts: dict[str, str] = field(default_factory=dict)
    last_open: str | None = None
    # userID -> the id of its latest message when hidden (-1: none): a newer one shows it
    hidden: dict[str, int] = field(default_factory=dict)
    sort: str | None = None  # None: the config file's
    theme: str | None = None  # None: the config file's

    @classmethod
    def parse(cls, data: Any) -> Saved:
        if not isinstance(data, dict):
            return cls()
        muted, drafts, hidden = data.get("muted"), data.get("drafts"), data.get("hidden")
        last_open, sort, theme = data.get("open"), data.get("sort"), data.get("theme")
        return cls(
            {u for u in muted if isinstance(u, str)} if isinstance(muted, list) else set(),
            {
                u: t[:DRAFT_MAX]
                for u, t in (drafts.items() if isinstance(drafts, dict) else ())
                if isinstance(u, str) and isinstance(t, str) and t
            },
            last_open if isinstance(last_open, str) else None,
            {
                u: m
                for u, m in (hidden.items() if isinstance(hidden, dict) else ())
                if isinstance(u, str) and isinstance(m, int) and not isinstance(m, bool)
            },
            sort if sort in SORTS else None,
            theme if isinstance(theme, str) and theme else None,
        )

    def dump(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.muted:
            data["muted"] = sorted(self.muted)
        if self.drafts:
            data["drafts"] = dict(sorted(self.drafts.items()))
        if self.last_open:
            data["open"] = self.last_open
        if self.hidden:
            data["hidden"] = dict(sorted(self.hidden.items()))
        if self.sort:
            data["sort"] = self.sort
        if self.theme:
            data["theme"] = self.theme
        return data


class Prefs:
    """The preferences file of one session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self.saved = Saved()

    # what was read or written last
    @property
    def muted(self) -> set[str]:
        return self.saved.muted

    @property
    def drafts(self) -> dict[str, str]:
        return self.saved.drafts

    @property
    def last_open(self) -> str | None:
        return self.saved.last_open

    @property
    def hidden(self) -> dict[str, int]:
        return self.saved.hidden

    def load(self) -> None:
        """Read the file (raises session_file.CorruptFile, after moving it aside)."""
        with locked(self.lock_path):
            self.saved = Saved.parse(read_json(self.path))

    def _change(self, change: Callable[[Saved], None]) -> None:
        """Read the file, apply ``change``, write it (on disk when this returns)."""
        with locked(self.lock_path):
            saved = Saved.parse(read_json(self.path))
            change(saved)
            data = saved.dump()
            if data:
                write_private(self.path, data)
            else:
                with_suppressed_unlink(self.path)
            self.saved = saved

    def set_muted(self, user_id: str, muted: bool) -> None:
        """Mute or unmute a conversation."""
        self._change(lambda s: s.muted.add(user_id) if muted else s.muted.discard(user_id))

    def set_hidden(self, changes: dict[str, int | None]) -> None:
        """Hide conversations until a message newer than their mark (None: show it)."""

        def change(saved: Saved) -> None:
            for user_id, mark in changes.items():
                if mark is None:
                    saved.hidden.pop(user_id, None)
                else:
                    saved.hidden[user_id] = mark

        self._change(change)

    def set_choice(self, *, sort: str | None = None, theme: str | None = None) -> None:
        """Remember the roster order or the theme chosen in the app."""

        def change(saved: Saved) -> None:
            saved.sort = sort or saved.sort
            saved.theme = theme or saved.theme

        self._change(change)

    def save_drafts(self, changed: dict[str, str], last_open: str | None) -> None:
        """Store these conversations' drafts ("" removes one) and which conversation is
        open; the drafts of the others (another window's) stay as they are."""

        def change(saved: Saved) -> None:
            for user_id, text in changed.items():
                if text.strip():
                    saved.drafts[user_id] = text[:DRAFT_MAX]
                else:
                    saved.drafts.pop(user_id, None)
            saved.last_open = last_open

        self._change(change)
