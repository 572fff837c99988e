"""The conversation: messages laid out as lines and drawn with Textual's Line API.

Only the lines on screen are turned into strips, so a conversation of 10,000 messages opens
fast, and a new message lays out only its own lines. Message text is never markup: it goes
into rich ``Text`` objects as plain strings, after control characters are made visible.

It also tells the app what the user has seen (``Seen``: the latest message of the peer on
screen while the terminal has focus), shows a "↓ 3 new" marker while scrolled up, and the
state of your own messages (laid out by chat_tui/layout.py: one glyph each and "seen
HH:MM" under the last one the peer has read).
"""

from __future__ import annotations

import bisect
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from chat_tui.colours import colour
from chat_tui.layout import INDENT, Layout, Line, last_seen_index, message_lines
from chat_tui.records import ChatMessage, Contact, Delivery
from chat_tui.state import first_unread
from chat_tui.widgets import cursor
from chat_tui.widgets.cursor import CURSOR_BINDINGS, MessageCursor


class ConversationView(MessageCursor, ScrollView, can_focus=True):
    """Shows one conversation; scrolling to the top asks for older messages. Focused, it
    has a message cursor (widgets/cursor.py)."""

    Act = cursor.Act
    BackToComposer = cursor.BackToComposer
    NeedNewer = cursor.NeedNewer

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conversation--seen",
        "conversation--new-below",
        "conversation--day",
        "conversation--sender",
        "conversation--self",
        "conversation--time",
        "conversation--text",
        "conversation--pending",
        "conversation--failed",
        "conversation--marker",
        "conversation--notice",
        "conversation--cursor",
        "conversation--quote",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("pageup", "page_up_or_load", "Older", show=False),
        Binding("pagedown", "page_down", "Newer", show=False),
        *CURSOR_BINDINGS,
    ]

    class NeedOlder(Message):
        """The user reached the top and older messages exist."""

        def __init__(self, user_id: str) -> None:
            super().__init__()
            self.user_id = user_id

    class Seen(Message):
        """The user has seen the peer's messages up to ``up_to`` (on screen, with the
        terminal focused)."""

        def __init__(self, user_id: str, up_to: int) -> None:
            super().__init__()
            self.user_id, self.up_to = user_id, up_to

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.contact: Contact | None = None
        self.self_id: str | None = None
        self.names: dict[str, str] = {}
        self.colours: dict[str, int] = {}  # userID -> colour index (chat_tui.colours)
        self.marker_at: int | None = None  # index of the first unread message
        self.read_mark: int | None = None  # the marker when opened (None: counted locally)
        self.new_below = 0  # messages arrived while scrolled up
        self.loading_older = self.loading_newer = False
        self._jump_to_unread = False  # Alt+U is loading older pages to find the marker
        self._seen_posted = -1  # the highest Seen posted for this conversation
        self._seen_index: int | None = None  # the message under which "seen" is drawn
        self._laid_mark: int | None = None  # the peer's marker the lines were laid out with
        self._lines: list[Line] = []
        self._starts: list[int] = []  # first line of each message
        self._laid_out_width = 0
        # where the user is: None at the bottom (the newest message stays in view), else
        # (message, line of it) at the top; a resize keeps it (issue 15, item 4)
        self._place: tuple[int, int] | None = None

    def on_mount(self) -> None:
        self.watch(self.app, "app_focus", self._focus_changed, init=False)

    def _focus_changed(self, focused: bool) -> None:
        if focused:
            self.check_seen()

    # -- content ----------------------------------------------------------------------

    def show(
        self,
        contact: Contact | None,
        self_id: str | None,
        names: dict[str, str],
        unread: int = 0,
        read_mark: int | None = None,
        colours: dict[str, int] | None = None,
    ) -> None:
        """Show a conversation from its latest message; mark where the unread ones start:
        above the first message of the peer after ``read_mark`` (the server's marker),
        or, without one, above the last ``unread`` messages."""
        self.contact, self.self_id, self.names = contact, self_id, names
        self.colours = colours or {}
        self.read_mark = read_mark
        self.marker_at = (
            first_unread(contact.messages, contact.user_id, read_mark, unread) if contact else None
        )
        self.loading_older = self._jump_to_unread = False
        self.loading_newer = False
        self.selected_message = self._selected_at = None
        self._seen_posted = -1
        self.new_below = 0
        self._layout_from(0)
        self._to_end()
        self.call_after_refresh(self.check_seen)

    def appended(self) -> None:
        """The open conversation grew at the end (a message arrived or was written)."""
        self.loading_newer = False
        if self.contact is None:
            return
        at_bottom = self.scroll_y >= self.max_scroll_y - 1
        count = len(self.contact.messages)
        if not at_bottom:
            peer = self.contact.user_id
            self.new_below += sum(
                1 for m in self.contact.messages[len(self._starts) :] if m.from_id == peer
            )
        # lay out again from the first message whose lines may change: unsent messages of
        # yours stay at the end, so a new one can be inserted just before them
        first = len(self._starts)
        while first and self.contact.messages[first - 1].delivery is not Delivery.SENT:
            first -= 1
        self._layout_from(max(0, min(first, count - 1)))
        if at_bottom:
            self._to_end()
        self.check_seen()

    def _show_lines(self, first: int, last: int) -> None:
        """Scroll so that lines ``first`` to ``last`` are on screen (the first, when they
        do not all fit)."""
        height = self.scrollable_content_region.height
        if first < self.scroll_y:
            self.scroll_to(y=first, animate=False, immediate=True)
        elif last >= self.scroll_y + height:
            self.scroll_to(y=max(first, last - height + 1), animate=False, immediate=True)

    def _to_end(self) -> None:
        """Show the last line now. (``scroll_end`` waits for the next layout, and until
        then ``scroll_y`` lags behind: a burst of messages looked as if the user had
        scrolled up, and the view stopped following.)"""
        self.scroll_target_y = self.scroll_y = self.max_scroll_y
        self._place = None

    def _remember_place(self) -> None:
        if not self._starts or self.scroll_y >= self.max_scroll_y - 1:
            self._place = None
            return
        top = round(self.scroll_y)
        index = max(0, bisect.bisect_right(self._starts, top) - 1)
        self._place = (index, top - self._starts[index])

    def _restore_place(self) -> None:
        """After a resize: the bottom anchored if the user was there, else the same line of
        the same message at the top."""
        if self._place is None or self._place[0] >= len(self._starts):
            self._to_end()
            return
        index, offset = self._place
        end = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._lines)
        y = min(self._starts[index] + offset, end - 1)
        # forced: a size that now needs a scrollbar may not have laid it out yet
        self.scroll_to(y=y, animate=False, immediate=True, force=True)
        self._place = (index, y - self._starts[index])

    def changed(self, msg: ChatMessage) -> None:
        """One message changed (sent, failed, got its id): lay out from it onwards."""
        if self.contact is None:
            return
        for index in range(len(self.contact.messages) - 1, -1, -1):
            if self.contact.messages[index] is msg:
                self._layout_from(min(index, len(self._starts)))
                return

    def receipt(self) -> None:
        """The peer's marker on your messages moved: glyphs and the "seen" line change
        from the first message above the marker this view was laid out with."""
        if self.contact is None:
            return
        messages, old = self.contact.messages, self._laid_mark
        first = len(messages)
        while first and (old is None or (messages[first - 1].id or old + 1) > old):
            first -= 1
        if self._seen_index is not None:
            first = min(first, self._seen_index)
        self._layout_from(min(first, len(self._starts)))

    def prepended(self, count: int) -> None:
        """Older messages were added at the top: keep what the user looks at in place."""
        self.loading_older = False
        jump, self._jump_to_unread = self._jump_to_unread, False
        if self.contact is None or count <= 0:
            return
        before = len(self._lines)
        if self.read_mark is not None:
            self.marker_at = first_unread(
                self.contact.messages, self.contact.user_id, self.read_mark
            )
        elif self.marker_at is not None:
            self.marker_at += count
        self._layout_from(0)
        self.scroll_to(y=self.scroll_y + len(self._lines) - before, animate=False, immediate=True)
        if jump:
            self.jump_to_unread()

    # -- what the user sees, and jumps ----------------------------------------------------

    def check_seen(self) -> None:
        """Post Seen for the latest message of the peer whose first line is on screen, if
        it is newer than what was posted (nothing while the terminal has no focus)."""
        contact = self.contact
        height = self.scrollable_content_region.height
        if contact is None or height <= 0 or not self.app.app_focus or not self._starts:
            return
        if self.scroll_y >= self.max_scroll_y - 1 and self.new_below:
            self.new_below = 0
            self.refresh()
        shown = bisect.bisect_left(self._starts, round(self.scroll_y) + height)
        for msg in reversed(contact.messages[:shown]):
            if msg.from_id == contact.user_id and msg.id is not None:
                if msg.id > self._seen_posted and msg.id > (contact.read_up_to or -1):
                    self._seen_posted = msg.id
                    self._tell(self.Seen(contact.user_id, msg.id))
                return

    def jump_to_latest(self) -> bool:
        """Scroll to the latest message; False when already there."""
        if self.scroll_y >= self.max_scroll_y - 1 and not self.new_below:
            return False
        self._to_end()
        self.new_below = 0
        self.refresh()
        self.check_seen()
        return True

    def jump_to_unread(self) -> bool:
        """Scroll to the "new messages" line, loading older pages until it is there;
        False when this conversation has no unread messages."""
        contact = self.contact
        if contact is None:
            return False
        loaded = next((m.id for m in contact.messages if m.id is not None), None)
        if (
            self.read_mark is not None
            and contact.has_more
            and (loaded is None or loaded > self.read_mark + 1)
            and self.marker_at in (0, None)
        ):
            self._jump_to_unread = True  # its start may be on an older page
            self._ask_for_older()
            return True
        if self.marker_at is None or self.marker_at >= len(self._starts):
            return False
        self.scroll_to(y=self._starts[self.marker_at], animate=False, immediate=True)
        return True

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
        contact = self.contact
        self._seen_index = last_seen_index(contact, self.self_id) if contact else None
        self._laid_mark = contact.peer_read_up_to if contact else None
        if not messages:
            self._lines.append(Line((("conversation--notice", "No messages yet."),)))
        layout = Layout(
            self.self_id,
            self.names,
            self.marker_at,
            self._seen_index,
            contact.peer_read_at if contact else None,
            width,
            colours=self.colours,
        )
        for i in range(index, len(messages)):
            self._starts.append(len(self._lines))
            assert contact is not None  # there are messages
            self._lines.extend(message_lines(contact, i, layout))
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    # -- drawing ----------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if self.new_below and y == self.scrollable_content_region.height - 1:
            return self._new_below_strip(width, base)
        if index >= len(self._lines):
            return Strip.blank(width, base)
        text = Text(no_wrap=True, end="")
        for component, part in self._lines[index].parts:
            text.append(part, self._style(component))
        segments = list(text.render(self.app.console))
        if self.has_focus and index in self.selected_lines():
            base = base + self._style("conversation--cursor")
        strip = Strip(segments).apply_style(base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _new_below_strip(self, width: int, base: Style) -> Strip:
        """The last row while scrolled up with new messages below: "↓ 3 new (End)"."""
        label = f" ↓ {self.new_below} new (End) "
        text = Text(" " * max(0, width - cell_len(label)), end="")
        text.append(label, self._style("conversation--new-below"))
        return (
            Strip(list(text.render(self.app.console))).apply_style(base).crop_extend(0, width, base)
        )

    def _style(self, component: str) -> Style:
        """The style of a component class; "class#3" adds user colour 3 (chat_tui.colours:
        for the theme of the moment, so a theme change needs no new layout)."""
        component, _, user = component.partition("#")
        style = self.get_component_rich_style(component, partial=True)
        if user:
            style += Style(color=colour(int(user), self.app.current_theme.dark))
        return style

    def on_resize(self) -> None:
        """Lay out again at a new width, and keep the user's place at any new size."""
        place = self._place
        if self._width() != self._laid_out_width:
            self._layout_from(0)
        self._place = place
        self._restore_place()
        self.check_seen()

    def _last_on_screen(self) -> int:
        """The index of the last message whose first line is on screen."""
        bottom = round(self.scroll_y) + self.scrollable_content_region.height - 1
        return max(0, bisect.bisect_right(self._starts, bottom) - 1)

    def on_click(self, event: events.Click) -> None:
        """A click selects the message under it, as Ctrl+Up and the arrows would (e, d, r,
        y, o then act on it; Escape goes back to the composer); on "↓ 3 new", it jumps to
        the latest."""
        region = self.scrollable_content_region
        y = event.y - (region.y - self.region.y)
        if self.new_below and y == region.height - 1:
            self.jump_to_latest()
            return
        line = round(self.scroll_y) + y
        if self.contact is None or not self.contact.messages or not 0 <= line < len(self._lines):
            return
        index = bisect.bisect_right(self._starts, line) - 1
        if index >= 0:
            self.select(index)
            self.focus()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # -- older pages ------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._remember_place()
        if round(new_value) == 0 and round(old_value) != 0:
            self._ask_for_older()
        if new_value > old_value:
            self.check_seen()
            if round(new_value) >= round(self.max_scroll_y):
                self._ask_for_newer()

    def _ask_for_newer(self) -> None:
        if self.contact is not None and self.contact.has_newer and not self.loading_newer:
            self.loading_newer = True
            self._tell(self.NeedNewer(self.contact.user_id))

    def _ask_for_older(self) -> None:
        if self.contact is not None and self.contact.has_more and not self.loading_older:
            self.loading_older = True
            self._tell(self.NeedOlder(self.contact.user_id))

    def _tell(self, message: Message) -> None:
        """Post a message that bubbles up to the app. Textual stops a message at the node
        it names as sender, and names the node whose code is running: called from the
        screen (a key it binds, a signal it draws), it would stop there."""
        self.post_message(message.set_sender(self))

    def action_page_up_or_load(self) -> None:
        if round(self.scroll_y) == 0:
            self._ask_for_older()
        else:
            self.scroll_page_up()

    def action_page_down(self) -> None:
        self.scroll_page_down()
