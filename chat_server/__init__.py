"""chat-server: the private-messaging Socket.IO server (python-socketio on aiohttp)."""

__version__ = "0.1.0"
