"""What the user chose per conversation and keeps across restarts: for now, which
conversations are muted. One small JSON file beside the session file, changed under the
same kind of lock as the outbox (two windows of one profile share it)."""

from __future__ import annotations

from pathlib import Path

from chat_tui.session_file import locked, read_json, with_suppressed_unlink, write_private


class Prefs:
    """The preferences file of one session."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self.muted: set[str] = set()

    def _read(self) -> set[str]:
        data = read_json(self.path)
        muted = data.get("muted") if isinstance(data, dict) else None
        return {u for u in muted if isinstance(u, str)} if isinstance(muted, list) else set()

    def load(self) -> set[str]:
        """Read the file (raises session_file.CorruptFile, after moving it aside)."""
        with locked(self.lock_path):
            self.muted = self._read()
        return set(self.muted)

    def set_muted(self, user_id: str, muted: bool) -> None:
        """Mute or unmute a conversation; on disk when this returns."""
        with locked(self.lock_path):
            on_disk = self._read()
            if muted:
                on_disk.add(user_id)
            else:
                on_disk.discard(user_id)
            if on_disk:
                write_private(self.path, {"muted": sorted(on_disk)})
            else:
                with_suppressed_unlink(self.path)
            self.muted = on_disk
