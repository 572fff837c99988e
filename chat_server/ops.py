"""``chat-server backup PATH`` and ``chat-server export NAME|USERID``: a consistent copy of
a running SQLite store, and one user's conversations as JSON lines.

backup uses SQLite's online backup API from a second connection: one read transaction
copies every page, so the copy is the database as it was at one moment (every message
committed before the backup began is in it), while the server goes on writing (WAL
mode: writers do not wait for readers). The copy is written beside PATH, checked with
``PRAGMA integrity_check``, made private (0600: it holds messages) and renamed into
place, so PATH is either absent or a whole, checked database. For Redis, see
docs/deploy.md (BGSAVE and the RDB file); a memory:// store has nothing to copy.

export prints, one JSON object per line, the user (``{"type": "user", ...}``) and then
every message of each of their conversations, oldest first, in the protocol's own
message shape (``{"type": "message", "id", "from", "to", "content", "ts", ...}``), on
any store. It reads through the store's paging (history after an id), never all at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from chat_server.admin import find_user, store_argument
from chat_server.config import redact_url
from chat_server.roster import wire_message
from chat_server.stores import Store, StoreError, make_store, sqlite_lib, sqlite_path

COMMANDS = ("backup", "export")
PAGE = 500  # messages read per step of an export


def build_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"chat-server {command}",
        description="Copy a running SQLite store consistently, while it is written to."
        if command == "backup"
        else "Print one user's conversations as JSON lines (their data, portable).",
    )
    store_argument(parser)
    if command == "backup":
        parser.add_argument("path", type=Path, help="the copy to write (must not exist)")
    else:
        parser.add_argument("user", help="a userID, or a username (case-insensitive)")
        parser.add_argument(
            "--output", type=Path, help="write to this file (mode 0600) instead of stdout"
        )
    return parser


def backup_sqlite(source: Path, dest: Path) -> int:
    """Copy the database at ``source`` to ``dest``; returns how many messages it holds.
    Raises ValueError when it cannot (nothing at source, dest exists, a bad copy)."""
    if not source.exists():
        raise ValueError(f"no database at {source}")
    if dest.exists():
        raise ValueError(f"{dest} exists; give a new path")
    part = dest.with_name(f".{dest.name}.part")
    part.unlink(missing_ok=True)  # left by a backup that was killed
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # private from birth
    src = sqlite_lib.connect(source)
    try:
        src.execute("PRAGMA busy_timeout=10000")
        dst = sqlite_lib.connect(part)
        try:
            src.backup(dst)  # every page in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            (check,) = dst.execute("PRAGMA integrity_check").fetchone()
            if check != "ok":
                raise ValueError(f"the copy failed its integrity check: {check}")
            (count,) = dst.execute("SELECT count(*) FROM messages").fetchone()
        finally:
            dst.close()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(part, dest)
    return int(count)


async def export_user(store: Store, target: str, out: TextIO) -> int:
    """Write the user and their conversations; returns the number of messages."""
    users = await store.list_users()
    user = find_user(users, target)
    names = {u.user_id: u.username for u in users}
    out.write(json.dumps({"type": "user", "userID": user.user_id, "username": user.username}))
    out.write("\n")
    count = 0
    conversations = await store.conversations(user.user_id)
    for peer_id, _ in sorted(conversations, key=lambda c: names.get(c[0], c[0])):
        after = 0
        while True:
            page = await store.history(user.user_id, peer_id, None, PAGE, after=after)
            for msg in page.messages:
                entry = {"type": "message", **wire_message(msg)}  # the protocol's shape
                entry["with"] = {"userID": peer_id, "username": names.get(peer_id, "")}
                out.write(json.dumps(entry, ensure_ascii=False))
                out.write("\n")
                count += 1
            if not page.messages or not page.has_newer:
                break
            after = page.messages[-1].id
    return count


async def run_export(args: argparse.Namespace) -> int:
    store = make_store(args.store, serving=False)
    await store.open()
    try:
        if args.output is None:
            count = await export_user(store, args.user, sys.stdout)
            sys.stdout.flush()
        else:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                count = await export_user(store, args.user, out)
    finally:
        await store.close()
    print(f"exported {count} message(s) from {redact_url(args.store)}", file=sys.stderr)
    return 0


def main(command: str, argv: Sequence[str]) -> int:
    args = build_parser(command).parse_args(argv)
    scheme = args.store.split(":", 1)[0]
    if scheme == "memory":
        print(f"chat-server {command}: a memory:// store lives inside its server", file=sys.stderr)
        return 2
    try:
        if command == "export":
            return asyncio.run(run_export(args))
        if scheme != "sqlite":
            print(
                "chat-server backup: copies SQLite stores; for Redis use BGSAVE and copy its "
                "RDB file (docs/deploy.md)",
                file=sys.stderr,
            )
            return 2
        count = backup_sqlite(sqlite_path(args.store), args.path)
    except (StoreError, OSError, ValueError, sqlite_lib.Error) as exc:
        print(f"chat-server {command}: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {count} message(s) to {args.path} (integrity check: ok)")
    return 0
