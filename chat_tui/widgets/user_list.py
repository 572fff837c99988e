"""The roster: yourself first, then everyone by name, with status icons, unread counts
(dim when the conversation is muted) and "typing…" while someone writes to you."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from chat_tui.state import ChatState

ONLINE, OFFLINE = "●", "○"  # filled / hollow: tells the two apart without colour


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

    def show(self, state: ChatState, names: dict[str, str]) -> None:
        """Rebuild the rows from the state, keeping the open conversation highlighted."""
        online = self.get_component_rich_style("user-list--online", partial=True)
        offline = self.get_component_rich_style("user-list--offline", partial=True)
        unread_style = self.get_component_rich_style("user-list--unread", partial=True)
        muted_style = self.get_component_rich_style("user-list--muted", partial=True)
        typing_style = self.get_component_rich_style("user-list--typing", partial=True)
        options = []
        for contact in state.ordered():
            status = online if contact.connected else offline
            row = Text(no_wrap=True, overflow="ellipsis")
            row.append(ONLINE if contact.connected else OFFLINE, status)
            row.append(" ")
            row.append(names[contact.user_id], muted_style if contact.muted else "")
            if contact.typing_until is not None:
                row.append(" typing…", typing_style)
            else:
                row.append(" online" if contact.connected else " offline", status)
            if contact.unread:
                style = muted_style if contact.muted else unread_style
                row.append(f" [{contact.unread}]", style)
            options.append(Option(row, id=contact.user_id))
        highlighted = state.open_id
        self.clear_options()
        self.add_options(options)
        if highlighted is not None and highlighted in state.contacts:
            self.highlighted = self.get_option_index(highlighted)
