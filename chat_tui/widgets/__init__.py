"""Widgets of chat-tui, one per module."""
