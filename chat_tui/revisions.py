"""Messages that change after they were sent (edits, deletes), and windows of a
conversation away from its end (opened at a search hit or at the message a reply
answers, then paged both ways). Pure functions of the app's state."""

from __future__ import annotations

from chat_tui.records import ChatMessage, Contact, Delivery
from chat_tui.state import ChatState


def find(state: ChatState, peer_id: str, message_id: int) -> ChatMessage | None:
    """A loaded message of the conversation with ``peer_id``."""
    contact = state.contacts.get(peer_id)
    if contact is None:
        return None
    return next((m for m in reversed(contact.messages) if m.id == message_id), None)


def apply_edit(state: ChatState, edited: ChatMessage) -> tuple[str, ChatMessage] | None:
    """A ``message edited`` (or an edit's ack): the loaded copy takes the new text.
    Returns (peer, the message shown), or None when it is not loaded."""
    peer = state.conversation_of(edited)
    shown = find(state, peer, edited.id) if edited.id is not None else None
    if shown is None or shown.deleted:
        return None
    shown.content, shown.edited_at = edited.content, edited.edited_at
    return peer, shown


def apply_delete(
    state: ChatState, message_id: int, from_id: str, to_id: str
) -> tuple[str, ChatMessage] | None:
    """A ``message deleted`` (or a delete's ack): the loaded copy becomes a tombstone
    (and, when it was unread, stops counting)."""
    peer = to_id if from_id == state.self_id else from_id
    shown = find(state, peer, message_id)
    if shown is None or shown.deleted:
        return None
    shown.content, shown.deleted, shown.edited_at = "", True, None
    contact = state.contacts[peer]
    if from_id == peer != state.self_id and message_id > (contact.read_up_to or 0):
        contact.unread = max(0, contact.unread - 1)
    return peer, shown


def _unsent(contact: Contact) -> list[ChatMessage]:
    return [m for m in contact.messages if m.delivery is not Delivery.SENT]


def show_window(
    state: ChatState, peer_id: str, messages: list[ChatMessage], has_more: bool, has_newer: bool
) -> None:
    """Show these messages (a ``history`` page around one) instead of what was loaded."""
    contact = state.contacts.get(peer_id)
    if contact is not None:
        contact.messages = [*messages, *_unsent(contact)]
        contact.has_more, contact.has_newer = has_more, has_newer


def drop_window(state: ChatState, peer_id: str) -> bool:
    """Back to the end of a conversation shown as a window: forget the window (the
    latest page is loaded again). False when no window is shown."""
    contact = state.contacts.get(peer_id)
    if contact is None or not contact.has_newer:
        return False
    contact.messages = _unsent(contact)
    contact.has_more, contact.has_newer = True, False
    return True


def append_newer(
    state: ChatState, peer_id: str, messages: list[ChatMessage], has_newer: bool
) -> int:
    """Newer messages of a window (a ``history`` page after its last); returns how many
    were added. The window ends when none are left."""
    contact = state.contacts.get(peer_id)
    if contact is None:
        return 0
    known = {m.id for m in contact.messages if m.id is not None}
    newer = [m for m in messages if m.id not in known]
    cut = len(contact.messages) - len(_unsent(contact))
    contact.messages[cut:cut] = newer
    contact.has_newer = has_newer and bool(newer)
    return len(newer)
