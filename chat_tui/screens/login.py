"""The username screen: shown on a first login, or when the server forgot your session."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

NAME_MIN, NAME_MAX = 3, 32


def check_username(raw: str) -> str | None:
    """Why a username cannot be used, or None when it can (3 to 32 characters, trimmed)."""
    name = raw.strip()
    if len(name) < NAME_MIN:
        return f"at least {NAME_MIN} characters, please"
    if len(name) > NAME_MAX:
        return f"at most {NAME_MAX} characters, please"
    return None


class LoginScreen(Screen[None]):
    """Asks for a username; Enter submits."""

    class Submitted(Message):
        def __init__(self, username: str) -> None:
            super().__init__()
            self.username = username

    def __init__(self, server: str, username: str = "", notice: str = "") -> None:
        super().__init__()
        self.server, self.username, self.notice = server, username, notice

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(Text("chat-tui"), id="login-title")
            yield Static(Text(f"Server: {self.server}"), id="login-server")
            yield Static(Text(self.notice), id="login-notice")
            yield Input(value=self.username, placeholder="your name", id="username")
            yield Static(Text(""), id="login-error")
            yield Static(Text("Enter to join · 3 to 32 characters · Ctrl+Q quits"), id="login-hint")

    def on_mount(self) -> None:
        self.query_one("#login-notice", Static).display = bool(self.notice)
        self.query_one("#username", Input).focus()

    def show_error(self, reason: str) -> None:
        self.query_one("#login-error", Static).update(Text(reason))
        self.query_one("#username", Input).disabled = False
        self.query_one("#username", Input).focus()

    @on(Input.Submitted, "#username")
    def submit(self, event: Input.Submitted) -> None:
        problem = check_username(event.value)
        if problem is not None:
            self.show_error(problem)
            return
        self.query_one("#login-error", Static).update(Text("connecting…"))
        self.post_message(self.Submitted(event.value.strip()))
