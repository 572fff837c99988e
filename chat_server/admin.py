"""``chat-server sessions list|revoke``: administer sessions on a store, from the shell.

It changes the store only; running servers notice a revoked session within a few
seconds (app.session_watch) and disconnect its sockets.
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-server sessions", description="List or revoke users' sessions."
    )
    parser.add_argument(
        "--store",
        default=os.environ.get(env_name("store"), default_store_url()),
        metavar="URL",
        help=f"the server's store [{env_name('store')}] (default: %(default)s)",
    )
    # --store is also accepted after the subcommand ("sessions list --store URL")
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--store", default=argparse.SUPPRESS, metavar="URL", help="as above")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[after], help="every session: userID, username, created")
    revoke = sub.add_parser("revoke", parents=[after], help="end every session of one user")
    revoke.add_argument("user", help="a userID, or a username (case-insensitive)")
    return parser


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


async def run(args: argparse.Namespace) -> int:
    if args.store.startswith("memory:"):
        print("chat-server sessions: a memory:// store lives inside its server", file=sys.stderr)
        return 2
    store: Store = make_store(args.store)
    await store.open()
    try:
        if args.command == "list":
            sessions = await store.list_sessions()
            for s in sessions:
                when = (
                    datetime.fromtimestamp(s.created_ms / 1000).isoformat(timespec="seconds")
                    if s.created_ms
                    else "-"
                )
                print(f"{s.user.user_id}  {when}  {s.user.username}")
            print(f"{len(sessions)} sessions in {redact_url(args.store)}", file=sys.stderr)
            return 0
        try:
            user = find_user(await store.list_users(), args.user)
        except ValueError as exc:
            print(f"chat-server sessions: {exc}", file=sys.stderr)
            return 1
        count = await store.revoke_sessions(user.user_id)
        print(
            f"revoked {count} session(s) of {user.username} ({user.user_id}); "
            "their connections close within seconds"
        )
        return 0
    finally:
        await store.close()


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except (StoreError, OSError, ValueError) as exc:
        print(f"chat-server sessions: {exc}", file=sys.stderr)
        return 1
