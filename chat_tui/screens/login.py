"""The username screen: shown on a first login, or when the server forgot your session."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static

from chat_server import protocol as p


def check_username(raw: str) -> str | None:
    """Why a username cannot be used, or None when it can: the server's own rule
    (protocol.validate_username), so the client never refuses what the server takes, nor
    sends what it would refuse."""
    try:
        p.validate_username(raw)
    except p.ProtocolError as exc:
        return exc.reason
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
            hint = f"Enter to join · up to {p.USERNAME_MAX} characters · Ctrl+Q quits"
            yield Static(Text(hint), id="login-hint")

    def on_mount(self) -> None:
        self.query_one("#login-notice", Static).display = bool(self.notice)
        self.query_one("#username", Input).focus()

    def show_error(self, reason: str) -> None:
        self.query_one("#login-error", Static).update(Text(reason))
        self.query_one("#username", Input).disabled = False
        self.query_one("#username", Input).focus()

    def show_progress(self, text: str) -> None:
        """How the connection is going (the name is sent; the field stays usable)."""
        self.query_one("#login-error", Static).update(Text(text))

    @on(Input.Submitted, "#username")
    def submit(self, event: Input.Submitted) -> None:
        problem = check_username(event.value)
        if problem is not None:
            self.show_error(problem)
            return
        self.query_one("#login-error", Static).update(Text("connecting…"))
        self.post_message(self.Submitted(event.value.strip()))
