"""How chat-server speaks Socket.IO: python-socketio and python-engineio through their
public hooks, plus, unless --stock-transport, the pieces swapped in for speed and for the
bounds the libraries lack. Every reach into a library's internals lives in this package;
reaches.py lists them, each with its canary."""

from chat_server.transport.server import (
    create_sio,
    drop_transports,
    is_stock,
    stock_output_sweep,
    stop_bus,
)

__all__ = ["create_sio", "drop_transports", "is_stock", "stock_output_sweep", "stop_bus"]
