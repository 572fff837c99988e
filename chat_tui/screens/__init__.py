"""Screens of chat-tui, one per module."""
