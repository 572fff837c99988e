"""chat-tui: the Textual terminal client (built in a later issue)."""
