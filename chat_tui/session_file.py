"""Where the session and the outbox live on disk, and how they are written.

One session file per server and profile in the user's data folder, JSON, mode 0600 in a
0700 folder, written atomically (temporary file, fsync, rename). The outbox, the messages
not yet acknowledged, lives beside it, so a message typed while offline survives a quit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one window per profile
    fcntl = None  # type: ignore[assignment]


class CorruptFile(Exception):
    """A session or outbox file that cannot be read; it was moved aside."""


def default_folder() -> Path:
    return Path(platformdirs.user_data_dir("chat-tui", appauthor=False)) / "sessions"


def session_path(server: str, profile: str, folder: Path | None = None) -> Path:
    """``<data>/sessions/<host>_<port>.<profile>.json`` for a server URL and a profile."""
    parts = urlsplit(server)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = re.sub(r"[^A-Za-z0-9.-]", "_", parts.hostname or "localhost")
    safe_profile = re.sub(r"[^A-Za-z0-9._-]", "_", profile) or "default"
    return (folder or default_folder()) / f"{host}_{port}.{safe_profile}.json"


def private_folder(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each 0700. Folders that exist are left
    as they are (``--session-file /tmp/x.json`` must not lock others out of /tmp)."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()]
    for f in reversed(missing):
        with contextlib.suppress(FileExistsError):
            f.mkdir(mode=0o700)
            os.chmod(f, 0o700)  # whatever the umask


def write_private(path: Path, data: Any) -> None:
    """Write JSON atomically, readable by the owner only."""
    private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(data, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with_suppressed_unlink(tmp)
        raise


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock (between processes) for one read-change-write of a file
    that two windows of one profile share."""
    if fcntl is None:
        yield
        return
    private_folder(lock_path.parent)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def with_suppressed_unlink(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``, None when absent; a corrupt file is renamed to ``*.corrupt``
    and reported with CorruptFile so the caller can start fresh and say why."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a folder in its place, no permission: not ours to move
        raise CorruptFile(f"{path} could not be read: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # bad JSON, not UTF-8, nested beyond reason
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        raise CorruptFile(f"{path} could not be read; moved it to {aside.name}") from None


@dataclass(frozen=True, slots=True)
class Session:
    """What is kept of a login: the secret sessionID and who it makes you."""

    sessionID: str
    userID: str
    username: str
    server: str


class SessionFile:
    """The session file of one server and profile (its outbox lives beside it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outbox_path = path.with_name(path.stem + ".outbox.json")
        self.prefs_path = path.with_name(path.stem + ".prefs.json")
        self.cache_path = path.with_name(path.stem + ".cache.json")

    def load(self) -> Session | None:
        data = read_json(self.path)
        if data is None:
            return None
        try:
            return Session(
                **{k: str(data[k]) for k in ("sessionID", "userID", "username", "server")}
            )
        except (KeyError, TypeError):
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            raise CorruptFile(
                f"{self.path} is not a session file; moved it to {aside.name}"
            ) from None

    def save(self, session: Session) -> None:
        write_private(self.path, asdict(session))
