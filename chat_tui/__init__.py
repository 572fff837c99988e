"""chat-tui: the Textual terminal client for chat-server."""
