#!/usr/bin/env python3
"""The floor: the tutorial's Part III server in the fewest lines python-socketio allows.

    .venv/bin/python bench/floor.py --port PORT [--uvloop] [--orjson]

What ../shared/reference/node-server/server.js does, line for line, on python-socketio and
aiohttp as shipped: sessions and messages in process memory, no validation, no limits, no
store, no acks. It is not a product (it trusts every input); it is the yardstick for
issue 16's speed targets: what any server on this stack costs per message before it does
the work chat-server does. Measure it beside the reference with compare.py:

    PATH=$PWD/.venv/bin:$PATH python3 ../shared/bench/compare.py --scenario throughput \
      --server-cmd 'python bench/floor.py --port {port} --uvloop --orjson' --runs 3

docs/performance.md ("The floor") has the figures.
"""

from __future__ import annotations

import argparse
import json
import secrets
from typing import Any

import socketio
from aiohttp import web


def build(codec: Any = json) -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", json=codec)
    app = web.Application()
    sio.attach(app)
    sessions: dict[str, dict[str, Any]] = {}
    messages: list[dict[str, Any]] = []
    users_of: dict[str, dict[str, str]] = {}  # socket id -> its session

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        auth = auth if isinstance(auth, dict) else {}
        known = sessions.get(auth.get("sessionID") or "")
        if known is not None:
            me = {"sessionID": auth["sessionID"], **known}
        elif auth.get("username"):
            me = {
                "sessionID": secrets.token_hex(8),
                "userID": secrets.token_hex(8),
                "username": auth["username"],
            }
        else:
            raise socketio.exceptions.ConnectionRefusedError("invalid username")
        user_id = me["userID"]
        users_of[sid] = me
        sessions[me["sessionID"]] = {
            "userID": user_id,
            "username": me["username"],
            "connected": True,
        }
        await sio.emit("session", {"sessionID": me["sessionID"], "userID": user_id}, to=sid)
        await sio.enter_room(sid, user_id)
        history: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            if user_id in (m["from"], m["to"]):
                peer = m["to"] if m["from"] == user_id else m["from"]
                history.setdefault(peer, []).append(m)
        roster = [{**s, "messages": history.get(s["userID"], [])} for s in sessions.values()]
        await sio.emit("users", roster, to=sid)
        await sio.emit(
            "user connected",
            {"userID": user_id, "username": me["username"], "connected": True, "messages": []},
            skip_sid=sid,
        )

    async def private_message(sid: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        me = users_of[sid]
        message = {"content": payload.get("content"), "from": me["userID"], "to": payload.get("to")}
        await sio.emit("private message", message, to=[message["to"], me["userID"]], skip_sid=sid)
        messages.append(message)

    async def disconnect(sid: str, *reason: Any) -> None:
        me = users_of.pop(sid)
        if not any(s["userID"] == me["userID"] for s in users_of.values()):
            await sio.emit("user disconnected", me["userID"], skip_sid=sid)
            sessions[me["sessionID"]]["connected"] = False

    sio.on("connect", handler=connect)
    sio.on("private message", handler=private_message)
    sio.on("disconnect", handler=disconnect)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--orjson", action="store_true", help="orjson for Socket.IO's JSON")
    args = parser.parse_args()
    codec: Any = json
    if args.orjson:  # the JSON interface chat-server gives python-socketio (orjson)
        from chat_server.transport.hooks import OrjsonCodec

        codec = OrjsonCodec
    loop_factory = None
    if args.uvloop:
        import uvloop

        loop_factory = uvloop.new_event_loop
    import asyncio

    async def serve() -> None:
        runner = web.AppRunner(build(codec), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        await asyncio.Event().wait()

    if loop_factory is None:
        asyncio.run(serve())
    else:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(serve())


if __name__ == "__main__":
    main()
