"""The conversation's message cursor (a part of ConversationView): with the conversation
focused (Ctrl+Up from the composer, or Shift+Tab), Up and Down select a message and keys
act on it: e edit, d delete, r reply, y copy, o open its first link, g go to the message
it answers. Escape goes back to the composer. The view highlights the selected message;
what the keys do is the app's (chat_tui/editing.py), told through ``Act``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Self

from textual.binding import Binding
from textual.message import Message

if TYPE_CHECKING:
    from chat_tui.layout import Line
    from chat_tui.records import ChatMessage, Contact

CURSOR_BINDINGS: Final = [
    Binding("up,k", "cursor(-1)", "Previous", show=False),
    Binding("down,j", "cursor(1)", "Next", show=False),
    Binding("escape", "leave", "Composer", show=False),
    Binding("e", "act('edit')", "Edit", show=False),
    Binding("d", "act('delete')", "Delete", show=False),
    Binding("r", "act('reply')", "Reply", show=False),
    Binding("y", "act('copy')", "Copy", show=False),
    Binding("o", "act('open')", "Open link", show=False),
    Binding("g", "act('original')", "Go to original", show=False),
]


class Act(Message):
    """The user asked for ``action`` on the selected message: edit, delete, reply, copy,
    open, original."""

    def __init__(self, action: str, message: ChatMessage) -> None:
        super().__init__()
        self.action, self.message = action, message


class BackToComposer(Message):
    """Back to the composer (Escape in the conversation)."""


class NeedNewer(Message):
    """The user reached the end of a window away from the conversation's end."""

    def __init__(self, user_id: str) -> None:
        super().__init__()
        self.user_id = user_id


class MessageCursor:
    """Selection state and keys; ConversationView provides layout and scrolling. The
    selection is a message, not a position: messages inserted before it (a page of
    older ones, a message placed before your unsent ones) do not move it."""

    contact: Contact | None
    selected_message: ChatMessage | None = None
    _selected_at: int | None = None  # where selected_message was last found
    _starts: list[int]

    if TYPE_CHECKING:  # ConversationView's (and its Widget's), after this class in the MRO
        _lines: list[Line]
        has_focus: bool

        def _tell(self, message: Message) -> None: ...

        def refresh(
            self, *regions: Any, repaint: bool = True, layout: bool = False, recompose: bool = False
        ) -> Self: ...

        def _show_lines(self, first: int, last: int) -> None: ...

        def _last_on_screen(self) -> int: ...

        def action_page_up_or_load(self) -> None: ...

    @property
    def selected(self) -> int | None:
        """The index of the selected message in the conversation (None: none)."""
        msg, messages = self.selected_message, self.contact.messages if self.contact else []
        if msg is None:
            return None
        at = self._selected_at
        if at is not None and at < len(messages) and messages[at] is msg:
            return at
        for index in range(len(messages) - 1, -1, -1):
            if messages[index] is msg:
                self._selected_at = index
                return index
        self.selected_message = None  # gone (a window was left, the user deleted)
        return None

    def selected_lines(self) -> range:
        """The screen lines of the selected message (empty when none)."""
        selected = self.selected
        if selected is None or selected >= len(self._starts):
            return range(0)
        end = self._starts[selected + 1] if selected + 1 < len(self._starts) else len(self._lines)
        return range(self._starts[selected], end)

    def select(self, index: int | None) -> None:
        messages = self.contact.messages if self.contact else []
        if index is None or not messages:
            self.selected_message = self._selected_at = None
        else:
            self._selected_at = max(0, min(index, len(messages) - 1))
            self.selected_message = messages[self._selected_at]
        lines = self.selected_lines()
        if lines:
            self._show_lines(lines.start, lines.stop - 1)
        self.refresh()

    def select_message(self, msg: ChatMessage) -> bool:
        self.selected_message, self._selected_at = msg, None
        if self.selected is None:
            return False
        self.select(self.selected)
        return True

    def on_focus(self) -> None:
        """Focused with nothing selected (Tab, a click): the last message on screen is,
        without scrolling (a click then selects what is under it, where it was)."""
        if self.selected is None and self.contact and self.contact.messages:
            index = min(self._last_on_screen(), len(self.contact.messages) - 1)
            self.selected_message, self._selected_at = self.contact.messages[index], index
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()  # the highlight shows only while the conversation has the focus

    def action_cursor(self, delta: int) -> None:
        contact = self.contact
        if contact is None or not contact.messages:
            return
        selected = self.selected
        if selected is None:
            self.select(len(contact.messages) - 1)
            return
        target = selected + delta
        if target >= len(contact.messages) and contact.has_newer:
            self._tell(NeedNewer(contact.user_id))
        self.select(target)
        if target < 0:
            self.action_page_up_or_load()

    def action_leave(self) -> None:
        self.select(None)
        self._tell(BackToComposer())

    def action_act(self, action: str) -> None:
        if self.selected_message is not None and self.selected is not None:
            self._tell(Act(action, self.selected_message))
