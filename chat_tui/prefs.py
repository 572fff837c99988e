"""What the user keeps per conversation across restarts: which conversations are muted,
the draft typed in each, and which one was open. One small JSON file beside the session
file, private like it, changed under the same kind of lock as the outbox (two windows of
one profile share it: each change is a read-change-write of its own part)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chat_tui.session_file import locked, read_json, with_suppressed_unlink, write_private

DRAFT_MAX = 100_000  # characters of one draft kept on disk (a paste gone wrong)


def _parse(data: Any) -> tuple[set[str], dict[str, str], str | None]:
    """(muted, drafts, open) from the file's JSON; anything malformed is left out."""
    if not isinstance(data, dict):
        return set(), {}, None
    muted = data.get("muted")
    drafts = data.get("drafts")
    last_open = data.get("open")
    return (
        {u for u in muted if isinstance(u, str)} if isinstance(muted, list) else set(),
        {
            u: t[:DRAFT_MAX]
            for u, t in (drafts.items() if isinstance(drafts, dict) else ())
            if isinstance(u, str) and isinstance(t, str) and t
        },
        last_open if isinstance(last_open, str) else None,
    )


class Prefs:
    """The preferences file of one session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self.muted: set[str] = set()
        self.drafts: dict[str, str] = {}
        self.last_open: str | None = None

    def load(self) -> None:
        """Read the file (raises session_file.CorruptFile, after moving it aside)."""
        with locked(self.lock_path):
            self.muted, self.drafts, self.last_open = _parse(read_json(self.path))

    def _write(self, muted: set[str], drafts: dict[str, str], last_open: str | None) -> None:
        data: dict[str, Any] = {}
        if muted:
            data["muted"] = sorted(muted)
        if drafts:
            data["drafts"] = dict(sorted(drafts.items()))
        if last_open:
            data["open"] = last_open
        if data:
            write_private(self.path, data)
        else:
            with_suppressed_unlink(self.path)
        self.muted, self.drafts, self.last_open = muted, drafts, last_open

    def set_muted(self, user_id: str, muted: bool) -> None:
        """Mute or unmute a conversation; on disk when this returns."""
        with locked(self.lock_path):
            on_disk, drafts, last_open = _parse(read_json(self.path))
            if muted:
                on_disk.add(user_id)
            else:
                on_disk.discard(user_id)
            self._write(on_disk, drafts, last_open)

    def save_drafts(self, changed: dict[str, str], last_open: str | None) -> None:
        """Store these conversations' drafts ("" removes one) and which conversation is
        open; the drafts of the others (another window's) stay as they are."""
        with locked(self.lock_path):
            muted, drafts, _ = _parse(read_json(self.path))
            for user_id, text in changed.items():
                if text.strip():
                    drafts[user_id] = text[:DRAFT_MAX]
                else:
                    drafts.pop(user_id, None)
            self._write(muted, drafts, last_open)
