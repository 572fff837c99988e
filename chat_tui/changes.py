"""What changed in the app's state, published as Textual signals that screens subscribe to.

The app changes its state (chat_tui.state) and publishes; a mounted screen redraws from the
state. The app never looks up a widget, so an event that arrives while a screen is being
switched, or while the app is exiting, draws nothing: Textual delivers a signal only to
nodes that are running and not being removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from textual.dom import DOMNode
from textual.signal import Signal

from chat_tui.records import ChatMessage


class LinkState(Enum):
    """The state of the connection, as the status line shows it."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    STOPPED = "stopped"  # retrying cannot help; waits for the user


@dataclass(frozen=True, slots=True)
class Status:
    """The connection's state and a detail (server, next attempt, reason)."""

    link: LinkState
    detail: str


class Shown(Enum):
    """How the open conversation changed."""

    OPENED = "opened"  # another conversation, or redraw it all
    APPENDED = "appended"  # messages at the end
    CHANGED = "changed"  # one message changed (sent, failed, got its id)
    PREPENDED = "prepended"  # older messages at the top
    RECEIPT = "receipt"  # the peer's read marker on your messages moved


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """A change to one conversation; screens act only when it is the open one."""

    user_id: str
    how: Shown
    message: ChatMessage | None = None  # CHANGED
    count: int = 0  # PREPENDED: how many; OPENED: how many were unread


@dataclass(frozen=True, slots=True)
class Composing:
    """What the composer is for besides a new message: editing one of yours (``text``
    goes into the composer), or answering one (a reply)."""

    kind: str  # "edit", "reply", or "recall" (only puts ``text`` into the composer)
    peer_id: str
    message: ChatMessage | None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Focus:
    """Where the conversation's cursor should go: a message of the open conversation
    (None: back to the composer)."""

    message: ChatMessage | None


class Changes:
    """The app's signals."""

    def __init__(self, owner: DOMNode) -> None:
        self.roster: Signal[None] = Signal(owner, "roster")  # users, presence, unread, names
        self.conversation: Signal[ConversationChange] = Signal(owner, "conversation")
        self.status: Signal[Status] = Signal(owner, "status")
        # the composer's purpose changed (None: a plain new message again)
        self.compose: Signal[Composing | None] = Signal(owner, "compose")
        self.focus: Signal[Focus] = Signal(owner, "focus")
