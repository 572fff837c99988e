"""The roster: yourself first, then everyone by name, with status icons, unread counts
(dim when the conversation is muted) and "typing…" while someone writes to you. One line
per user at any width: a long name is cut (…) before the unread count is."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from chat_tui.records import Contact
from chat_tui.state import ChatState

ONLINE, OFFLINE = "●", "○"  # filled / hollow: tells the two apart without colour
UNKNOWN = "◌"  # while you are offline: nobody else's presence is known


def roster_icon(contact: Contact, state: ChatState) -> str:
    """● online, ○ offline, ◌ not known (you are offline yourself)."""
    if not state.linked and contact.user_id != state.self_id:
        return UNKNOWN
    return ONLINE if contact.connected else OFFLINE


class UserList(OptionList):
    """One row per user; selecting a row opens that conversation."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "user-list--online",
        "user-list--offline",
        "user-list--unread",
        "user-list--muted",
        "user-list--typing",
        "user-list--self",
    }

    _shown: tuple[ChatState, dict[str, str]] | None = None

    class TypedAway(Message):
        """A letter typed while the roster has focus (Tab took it there): it belongs in
        the composer."""

        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    def on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            event.stop()
            event.prevent_default()
            self.post_message(self.TypedAway(event.character))

    def on_resize(self, _: events.Resize) -> None:
        if self._shown is not None:
            self.show(*self._shown)  # names are cut to the new width

    def _fit(self, name: str, room: int) -> str:
        """``name`` in at most ``room`` cells, cut with an ellipsis."""
        if cell_len(name) <= room:
            return name
        out = ""
        for ch in name:
            if cell_len(out + ch) > room - 1:
                break
            out += ch
        return out + "…"

    def show(self, state: ChatState, names: dict[str, str]) -> None:
        """Rebuild the rows from the state, keeping the open conversation highlighted."""
        self._shown = (state, names)
        width = self.scrollable_content_region.width or 80
        online = self.get_component_rich_style("user-list--online", partial=True)
        offline = self.get_component_rich_style("user-list--offline", partial=True)
        unread_style = self.get_component_rich_style("user-list--unread", partial=True)
        muted_style = self.get_component_rich_style("user-list--muted", partial=True)
        typing_style = self.get_component_rich_style("user-list--typing", partial=True)
        colours = state.colours(self.app.current_theme.dark)
        options = []
        for contact in state.ordered():
            status = online if contact.connected else offline
            row = Text(no_wrap=True, overflow="ellipsis")
            icon = roster_icon(contact, state)
            row.append(icon, offline if icon == UNKNOWN else status)
            row.append(" ")
            typing = " typing…" if contact.typing_until is not None else ""
            count = f" [{contact.unread}]" if contact.unread else ""
            room = max(4, width - 2 - cell_len(typing) - cell_len(count))
            name = self._fit(names[contact.user_id], room)
            row.append(name, muted_style if contact.muted else colours[contact.user_id])
            if typing:
                row.append(typing, typing_style)
            if count:
                row.append(count, muted_style if contact.muted else unread_style)
            options.append(Option(row, id=contact.user_id))
        highlighted = state.open_id
        self.clear_options()
        self.add_options(options)
        if highlighted is not None and highlighted in state.contacts:
            self.highlighted = self.get_option_index(highlighted)
