"""``chat-server sessions list|revoke`` and ``chat-server users list|delete``: administer a
store from the shell.

They change the store only; running servers notice within a few seconds (app.watch):
they close the sockets of revoked sessions and deleted users, and tell their clients that
a user was deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import datetime

from chat_server.config import default_store_url, env_name, redact_url
from chat_server.protocol import username_key
from chat_server.stores import Store, StoreError, User, make_store

COMMANDS = ("sessions", "users")


def build_parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"chat-server {command}",
        description="List or revoke users' sessions."
        if command == "sessions"
        else "List users, or delete one with their sessions and conversations.",
    )
    store_argument(parser)
    # --store is also accepted after the subcommand ("sessions list --store URL")
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--store", default=argparse.SUPPRESS, metavar="URL", help="as above")
    sub = parser.add_subparsers(dest="action", required=True)
    if command == "sessions":
        sub.add_parser("list", parents=[after], help="every session: userID, created, username")
        act = sub.add_parser("revoke", parents=[after], help="end every session of one user")
    else:
        sub.add_parser(
            "list", parents=[after], help="every user: userID, created, last seen, sessions"
        )
        act = sub.add_parser(
            "delete",
            parents=[after],
            help="erase a user: sessions, every message of their conversations, the user",
        )
    act.add_argument("user", help="a userID, or a username (case-insensitive)")
    return parser


def store_argument(parser: argparse.ArgumentParser) -> None:
    """--store URL, defaulting as chat-server's own (its variable, then the data folder)."""
    parser.add_argument(
        "--store",
        default=os.environ.get(env_name("store"), default_store_url()),
        metavar="URL",
        help=f"the server's store [{env_name('store')}] (default: %(default)s)",
    )


def find_user(users: list[User], target: str) -> User:
    """The one user a target names; ValueError (with the candidates) otherwise."""
    exact = [u for u in users if u.user_id == target]
    if exact:
        return exact[0]
    named = [u for u in users if username_key(u.username) == username_key(target.strip())]
    if not named:
        raise ValueError(f"no user has the ID or name {target!r}")
    if len(named) > 1:
        ids = ", ".join(f"{u.user_id} ({u.username})" for u in named)
        raise ValueError(f"{len(named)} users are called {target!r}: {ids}; give a userID")
    return named[0]


def when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000).isoformat(timespec="seconds") if ms else "-"


async def list_sessions(store: Store) -> None:
    sessions = await store.list_sessions()
    for s in sessions:
        print(f"{s.user.user_id}  {when(s.created_ms)}  {s.user.username}")
    print(f"{len(sessions)} sessions", file=sys.stderr)


async def list_users(store: Store) -> None:
    infos = await store.user_infos()
    for i in infos:
        print(
            f"{i.user.user_id}  created {when(i.created_ms)}  seen {when(i.last_seen_ms)}  "
            f"{i.sessions} session(s)  {i.user.username}"
        )
    print(f"{len(infos)} users", file=sys.stderr)


async def run(command: str, args: argparse.Namespace) -> int:
    if args.store.startswith("memory:"):
        print(f"chat-server {command}: a memory:// store lives inside its server", file=sys.stderr)
        return 2
    store: Store = make_store(args.store, serving=False)
    await store.open()
    try:
        if args.action == "list":
            await (list_sessions if command == "sessions" else list_users)(store)
            print(f"in {redact_url(args.store)}", file=sys.stderr)
            return 0
        try:
            user = find_user(await store.list_users(), args.user)
        except ValueError as exc:
            print(f"chat-server {command}: {exc}", file=sys.stderr)
            return 1
        if args.action == "revoke":
            count = await store.revoke_sessions(user.user_id)
            print(
                f"revoked {count} session(s) of {user.username} ({user.user_id}); "
                "their connections close within seconds"
            )
            return 0
        erased = await store.delete_user(user.user_id)
        print(
            f"deleted {user.username} ({user.user_id}) and {erased} message(s) of their "
            "conversations; running servers tell their clients within seconds"
        )
        return 0
    finally:
        await store.close()


def main(command: str, argv: Sequence[str]) -> int:
    args = build_parser(command).parse_args(argv)
    try:
        return asyncio.run(run(command, args))
    except (StoreError, OSError, ValueError) as exc:
        print(f"chat-server {command}: {exc}", file=sys.stderr)
        return 1
