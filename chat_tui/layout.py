"""A conversation laid out as screen lines: pure, so the view (widgets/conversation.py)
only scrolls and draws, and the rules of what a message looks like are tested alone.

Each line is a tuple of (component class, text) parts; the view styles each part with
its component class. Text from the network goes through render.safe_text first.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from chat_server.protocol import FINAL_SEND_ERRORS
from chat_tui.records import ChatMessage, Contact, Delivery, is_seen
from chat_tui.render import day_label, safe_text, same_day, seen_label, time_of_day

INDENT = 10  # " 14:05 ✓✓ " before the text
# the state of one of your messages, in the column after its time (the F1 help's legend)
DELIVERY_GLYPHS = {"pending": "…", "sent": "✓", "seen": "✓✓", "failed": "✗"}


@dataclass(frozen=True, slots=True)
class Line:
    """One screen line: the parts of text with their component-class names."""

    parts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Layout:
    """What the lines of a conversation depend on besides its messages."""

    self_id: str | None
    names: dict[str, str]  # userID -> what to show (state.display_names)
    marker_at: int | None  # the "new messages" line goes above this message
    seen_index: int | None  # "seen HH:MM" goes under this message
    seen_at: int | None  # when the peer read it (ms)
    width: int
    # message id -> message, for the quotes of replies (built when the first one needs it)
    originals: dict[int, ChatMessage] = field(default_factory=dict)
    # userID -> index of its colour (chat_tui.colours); a sender line's component is then
    # "conversation--sender#3", which the view draws in that colour
    colours: dict[str, int] = field(default_factory=dict)


def last_seen_index(contact: Contact, self_id: str | None) -> int | None:
    """The index of the last of your messages the peer has read (none in a conversation
    with yourself)."""
    if contact.user_id == self_id or contact.peer_read_up_to is None:
        return None
    messages = contact.messages
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].from_id == self_id and is_seen(messages[index], contact):
            return index
    return None


def glyph(msg: ChatMessage, contact: Contact) -> tuple[str, str]:
    """The glyph of one of your messages, and its component class."""
    if msg.delivery is Delivery.PENDING:
        return DELIVERY_GLYPHS["pending"], "conversation--pending"
    if msg.delivery is Delivery.FAILED:
        return DELIVERY_GLYPHS["failed"], "conversation--failed"
    if is_seen(msg, contact):
        return DELIVERY_GLYPHS["seen"], "conversation--seen"
    return DELIVERY_GLYPHS["sent"], "conversation--time"


def _rule(label: str, width: int, component: str) -> Line:
    return Line(((component, "──" + label + "─" * max(0, width - cell_len(label) - 2)),))


def message_lines(contact: Contact, i: int, layout: Layout) -> list[Line]:
    """The lines of message ``i``: a day separator when the date changes, the "new
    messages" line, the sender when it changes, the wrapped text with its time (and
    glyph, for yours), why it was not sent, and "seen" under the last one read."""
    messages, width = contact.messages, layout.width
    msg = messages[i]
    prev = messages[i - 1] if i else None
    lines: list[Line] = []
    if msg.ts is not None and (prev is None or not same_day(prev.ts, msg.ts)):
        lines.append(_rule(f" {day_label(msg.ts)} ", width, "conversation--day"))
    if i == layout.marker_at:
        lines.append(_rule(" new messages ", width, "conversation--marker"))
    mine = msg.from_id == layout.self_id
    if prev is None or prev.from_id != msg.from_id or lines:
        who = "you" if mine else layout.names.get(msg.from_id, safe_text(msg.from_id))
        component = "conversation--self" if mine else "conversation--sender"
        if not mine and msg.from_id in layout.colours:
            component = f"{component}#{layout.colours[msg.from_id]}"
        lines.append(Line(((component, who),)))
    mark, mark_style = glyph(msg, contact) if mine else ("", "conversation--time")
    if msg.reply_to is not None:
        lines.append(quote_line(contact, msg.reply_to, layout))
    text, text_style = safe_text(msg.content), "conversation--text"
    if msg.deleted:
        text, text_style = "message deleted", "conversation--notice"
    rows: list[list[tuple[str, str]]] = [
        [(text_style, c)] for p in text.split("\n") for c in wrap(p, width - INDENT)
    ]
    if msg.edited_at is not None and not msg.deleted:
        if cell_len(rows[-1][-1][1]) + len(EDITED) <= width - INDENT:
            rows[-1].append(("conversation--time", EDITED))
        else:
            rows.append([("conversation--time", EDITED.strip())])
    first: list[tuple[str, str]] = [
        ("conversation--time", f" {time_of_day(msg.ts)} "),
        (mark_style, f"{mark:<2} "),
    ]
    for n, row in enumerate(rows):
        head = first if n == 0 else [("conversation--time", " " * INDENT)]
        lines.append(Line((*head, *row)))
    if mine and msg.delivery is Delivery.FAILED:
        cure = "" if msg.error in FINAL_SEND_ERRORS else " (ctrl+r to retry)"
        note = f"not sent: {msg.error or 'error'}{cure}"
        lines.append(Line((("conversation--failed", " " * INDENT + note),)))
    if i == layout.seen_index:
        lines.append(Line((("conversation--seen", " " * INDENT + seen_label(layout.seen_at)),)))
    return lines


EDITED = " (edited)"


def quote_line(contact: Contact, original_id: int, layout: Layout) -> Line:
    """The one-line quote above a reply: who wrote the original and how it began."""
    if not layout.originals:
        layout.originals.update((m.id, m) for m in contact.messages if m.id is not None)
    original = layout.originals.get(original_id)
    if original is None:
        quoted = "an earlier message (g: go to it)"
    elif original.deleted:
        quoted = "message deleted"
    else:
        who = (
            "you"
            if original.from_id == layout.self_id
            else layout.names.get(original.from_id, safe_text(original.from_id))
        )
        first = safe_text(original.content).split("\n", 1)[0]
        quoted = f"{who}: {first}"
    room = max(1, layout.width - INDENT - 2)
    if cell_len(quoted) > room:
        quoted = wrap(quoted, room - 1)[0] + "…"
    return Line((("conversation--time", " " * INDENT), ("conversation--quote", "↳ " + quoted)))


def wrap(paragraph: str, width: int) -> list[str]:
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
