"""Where you write: Enter sends, Alt+Enter or Ctrl+J starts a new line, Up (when empty)
edits your last message, Alt+R recalls it, Escape cancels an edit or a reply."""

from __future__ import annotations

import re
from typing import Final

from textual import events
from textual.message import Message
from textual.widgets import TextArea

_LEADING_BLANK_LINES: Final = re.compile(r"\A(?:[^\S\n]*\n)+")
_TRAILING_BLANK_LINES: Final = re.compile(r"(?:\n[^\S\n]*)+\Z")
PLACEHOLDER: Final = "Enter sends · Alt+Enter: new line"


def trim_blank_lines(text: str) -> str:
    """``text`` without the blank lines before and after it (the lines in between, and
    the indentation of its first line, stay as typed)."""
    return _TRAILING_BLANK_LINES.sub("", _LEADING_BLANK_LINES.sub("", text))


class Composer(TextArea):
    """A multi-line input whose Enter sends the whole text as one message."""

    class Submitted(Message):
        """The user pressed Enter with something to send."""

        def __init__(self, text: str, to: str | None = None) -> None:
            super().__init__()
            self.text = text
            self.to = to  # the conversation the text was typed in

    class EditLast(Message):
        """Up in the empty composer: edit your last message (or, where that cannot be
        done, recall ``last_sent``)."""

        def __init__(self, last_sent: str) -> None:
            super().__init__()
            self.last_sent = last_sent

    class Cancel(Message):
        """Escape: no longer editing or replying."""

    class TooLong(Message):
        """Enter on a text longer than the server takes: nothing is sent, the text stays."""

        def __init__(self, length: int, limit: int) -> None:
            super().__init__()
            self.length, self.limit = length, limit

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, soft_wrap=True, show_line_numbers=False, compact=True, placeholder=PLACEHOLDER
        )
        self.last_sent = ""
        self.editing = False  # holds the text of a message being edited
        self.conversation: str | None = None  # whose draft the text is (set with it)
        self.max_length: int | None = None  # the longest message the server takes

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = trim_blank_lines(self.text)
            if self.max_length is not None and len(text) > self.max_length:
                self.post_message(self.TooLong(len(text), self.max_length))
                return
            if text.strip():
                if not self.editing:
                    self.last_sent = text
                self.clear()
                self.post_message(self.Submitted(text, self.conversation))
            return
        if event.key in ("ctrl+j", "alt+enter", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key == "up" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditLast(self.last_sent))
            return
        if event.key == "alt+r" and self.last_sent:
            event.stop()
            event.prevent_default()
            self.insert(self.last_sent)
            return
        if event.key == "escape":
            event.stop()
            event.prevent_default()
            self.post_message(self.Cancel())
            return
        await super()._on_key(event)
