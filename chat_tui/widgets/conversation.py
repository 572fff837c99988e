"""The conversation: messages laid out as lines and drawn with Textual's Line API.

Only the lines on screen are turned into strips, so a conversation of 10,000 messages opens
fast, and a new message lays out only its own lines. Message text is never markup: it goes
into rich ``Text`` objects as plain strings, after control characters are made visible.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chat_tui.render import day_label, safe_text, same_day, time_of_day
from chat_tui.state import ChatMessage, Contact, Delivery

INDENT = 8  # "  14:05 " before the text


@dataclass(frozen=True, slots=True)
class _Line:
    """One screen line: the parts of text with their component-class names."""

    parts: tuple[tuple[str, str], ...]


class ConversationView(ScrollView, can_focus=True):
    """Shows one conversation; scrolling to the top asks for older messages."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conversation--day",
        "conversation--sender",
        "conversation--self",
        "conversation--time",
        "conversation--text",
        "conversation--pending",
        "conversation--failed",
        "conversation--marker",
        "conversation--notice",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "page_up_or_load", "Older", show=False),
        Binding("pagedown", "page_down", "Newer", show=False),
    ]

    class NeedOlder(Message):
        """The user reached the top and older messages exist."""

        def __init__(self, user_id: str) -> None:
            super().__init__()
            self.user_id = user_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.contact: Contact | None = None
        self.self_id: str | None = None
        self.names: dict[str, str] = {}
        self.marker_at: int | None = None  # index of the first unread message
        self.loading_older = False
        self._lines: list[_Line] = []
        self._starts: list[int] = []  # first line of each message
        self._laid_out_width = 0

    # -- content ----------------------------------------------------------------------

    def show(
        self, contact: Contact | None, self_id: str | None, names: dict[str, str], unread: int = 0
    ) -> None:
        """Show a conversation from its latest message; mark where the unread ones start."""
        self.contact, self.self_id, self.names = contact, self_id, names
        count = len(contact.messages) if contact else 0
        self.marker_at = count - unread if 0 < unread <= count else None
        self.loading_older = False
        self._layout_from(0)
        self._to_end()

    def appended(self) -> None:
        """The open conversation grew at the end (a message arrived or was written)."""
        if self.contact is None:
            return
        at_bottom = self.scroll_y >= self.max_scroll_y - 1
        count = len(self.contact.messages)
        # lay out again from the first message whose lines may change: unsent messages of
        # yours stay at the end, so a new one can be inserted just before them
        first = len(self._starts)
        while first and self.contact.messages[first - 1].delivery is not Delivery.SENT:
            first -= 1
        self._layout_from(max(0, min(first, count - 1)))
        if at_bottom:
            self._to_end()

    def _to_end(self) -> None:
        """Show the last line now. (``scroll_end`` waits for the next layout, and until
        then ``scroll_y`` lags behind: a burst of messages looked as if the user had
        scrolled up, and the view stopped following.)"""
        self.scroll_target_y = self.scroll_y = self.max_scroll_y

    def changed(self, msg: ChatMessage) -> None:
        """One message changed (sent, failed, got its id): lay out from it onwards."""
        if self.contact is None:
            return
        for index in range(len(self.contact.messages) - 1, -1, -1):
            if self.contact.messages[index] is msg:
                self._layout_from(min(index, len(self._starts)))
                return

    def prepended(self, count: int) -> None:
        """Older messages were added at the top: keep what the user looks at in place."""
        self.loading_older = False
        if self.contact is None or count <= 0:
            return
        before = len(self._lines)
        if self.marker_at is not None:
            self.marker_at += count
        self._layout_from(0)
        self.scroll_to(y=self.scroll_y + len(self._lines) - before, animate=False, immediate=True)

    # -- layout -----------------------------------------------------------------------

    def _width(self) -> int:
        return max(INDENT + 10, self.scrollable_content_region.width)

    def _layout_from(self, index: int) -> None:
        """Recompute lines from message ``index`` to the end."""
        width = self._width()
        if width != self._laid_out_width:
            index, self._laid_out_width = 0, width
        messages = self.contact.messages if self.contact else []
        index = min(index, len(self._starts))
        cut = (
            0
            if index == 0
            else self._starts[index]
            if index < len(self._starts)
            else len(self._lines)
        )
        del self._lines[cut:]
        del self._starts[index:]
        if not messages:
            self._lines.append(_Line((("conversation--notice", "No messages yet."),)))
        for i in range(index, len(messages)):
            self._starts.append(len(self._lines))
            self._lines.extend(self._message_lines(i, messages, width))
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def _message_lines(self, i: int, messages: list[ChatMessage], width: int) -> list[_Line]:
        msg = messages[i]
        prev = messages[i - 1] if i else None
        lines: list[_Line] = []
        if msg.ts is not None and (prev is None or not same_day(prev.ts, msg.ts)):
            label = f" {day_label(msg.ts)} "
            pad = max(0, width - cell_len(label) - 2)
            lines.append(_Line((("conversation--day", "──" + label + "─" * pad),)))
        if i == self.marker_at:
            label = " new messages "
            pad = max(0, width - len(label) - 2)
            lines.append(_Line((("conversation--marker", "──" + label + "─" * pad),)))
        mine = msg.from_id == self.self_id
        if prev is None or prev.from_id != msg.from_id or lines:
            who = "(yourself)" if mine else self.names.get(msg.from_id, safe_text(msg.from_id))
            lines.append(_Line((("conversation--self" if mine else "conversation--sender", who),)))
        body_width = width - INDENT
        paragraphs = safe_text(msg.content).split("\n")
        first = True
        for paragraph in paragraphs:
            for chunk in _wrap(paragraph, body_width):
                stamp = f"  {time_of_day(msg.ts)} " if first else " " * INDENT
                lines.append(_Line((("conversation--time", stamp), ("conversation--text", chunk))))
                first = False
        if mine and msg.delivery is Delivery.PENDING:
            lines.append(_Line((("conversation--pending", " " * INDENT + "… sending"),)))
        elif mine and msg.delivery is Delivery.FAILED:
            note = f"✗ not sent: {msg.error or 'error'} (ctrl+r to retry)"
            lines.append(_Line((("conversation--failed", " " * INDENT + note),)))
        return lines

    # -- drawing ----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, base)
        text = Text(no_wrap=True, end="")
        for component, part in self._lines[index].parts:
            text.append(part, self._style(component))
        segments = list(text.render(self.app.console))
        strip = Strip(segments).apply_style(base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)

    def on_resize(self) -> None:
        if self._width() != self._laid_out_width:
            at_bottom = self.scroll_y >= self.max_scroll_y - 1
            self._layout_from(0)
            if at_bottom:
                self._to_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # -- older pages ------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if round(new_value) == 0 and round(old_value) != 0:
            self._ask_for_older()

    def _ask_for_older(self) -> None:
        if self.contact is not None and self.contact.has_more and not self.loading_older:
            self.loading_older = True
            self.post_message(self.NeedOlder(self.contact.user_id))

    def action_page_up_or_load(self) -> None:
        if round(self.scroll_y) == 0:
            self._ask_for_older()
        else:
            self.scroll_page_up()

    def action_page_down(self) -> None:
        self.scroll_page_down()


def _wrap(paragraph: str, width: int) -> list[str]:
    """Split a paragraph into chunks of at most ``width`` cells, at spaces when possible."""
    if paragraph.isascii():
        # printable ASCII (safe_text replaced the controls): one cell per character, so a
        # plain greedy split does what Rich's general wrapper does, many times faster
        out = []
        while len(paragraph) > width:
            cut = paragraph.rfind(" ", 0, width + 1)
            if cut <= 0:
                out.append(paragraph[:width])
                paragraph = paragraph[width:]
            else:
                out.append(paragraph[:cut])
                paragraph = paragraph[cut + 1 :]
        out.append(paragraph)
        return out
    if cell_len(paragraph) <= width:
        return [paragraph]
    lines = Text(paragraph).wrap(_CONSOLE, width)
    return [line.plain for line in lines] or [""]


# A console only for measuring: wrapping needs one, drawing uses the app's.
_CONSOLE = Console(width=1000, color_system=None, file=io.StringIO())
