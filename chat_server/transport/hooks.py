"""What chat-server gives python-socketio through its public constructor hooks:
``serializer=`` (the packet class) and ``json=`` (the JSON codec). Used on every path,
the stock one included."""

from __future__ import annotations

from typing import Any

import orjson
from socketio import packet


class SafePacket(packet.Packet):  # type: ignore[misc]
    """Socket.IO packets of a protocol without binary data (python-socketio's public
    ``serializer=`` hook, so the stock paths use it too).

    A client's BINARY_EVENT or BINARY_ACK, or any binary frame, is refused as it is
    decoded: python-socketio would otherwise collect the attachments such a packet
    announces in memory, up to a billion of them, until the connection closed
    (docs/security.md). The packet raises ValueError; ChatSocketServer closes its sender.
    """

    def decode(self, encoded_packet: Any) -> Any:
        if not isinstance(encoded_packet, str):
            raise ValueError("binary data is not part of this protocol")
        if encoded_packet[:1] in ("5", "6"):  # BINARY_EVENT, BINARY_ACK
            raise ValueError("binary packets are not part of this protocol")
        return super().decode(encoded_packet)


class TextPacket(SafePacket):
    """SafePacket, without the search for bytes in what the server sends.

    python-socketio walks every outgoing payload to look for bytes (``data_is_binary``):
    for each 1,000-entry ``users`` roster of a connect storm that was about 15% of the
    server's time. This server never sends bytes.
    """

    uses_binary_events = False


class OrjsonCodec:
    """The json module interface python-socketio and python-engineio call, on orjson."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return orjson.loads(text)
