"""A stable colour for each user, so two people with one name are told apart at a glance
(the roster, the header, the switcher, search results and the sender line of a message).

The colour comes from the userID (not the name: a namesake gets another one), through
CRC-32, so it is the same in every run and every window. Users whose names look the
same (state.display_names gives them a #suffix) never share a colour while there are
colours to spare. Each palette keeps a contrast of 4.5:1 or more against the backgrounds
of Textual's dark and light themes; with NO_COLOR they are drawn in grey like the rest.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from chat_server.protocol import username_key
from chat_tui.records import Contact

# on a dark background, and on a light one: blue, green, amber, purple, cyan, orange,
# pink, olive (none is the red of errors)
DARK = ("#7aa2f7", "#9ece6a", "#e0af68", "#bb9af7", "#7dcfff", "#ff9e64", "#f7768e", "#73daca")
LIGHT = ("#1f5fbf", "#2e7d32", "#8a5a00", "#7b3fbf", "#00707a", "#b34700", "#b0306a", "#4a6b00")


def base_index(user_id: str) -> int:
    return zlib.crc32(user_id.encode("utf-8", "surrogatepass")) % len(DARK)


def colour_indexes(contacts: Iterable[Contact]) -> dict[str, int]:
    """userID -> palette index: the userID's own, moved to the next free one when a user
    whose name looks the same already has it (in userID order, so it is stable)."""
    taken: dict[str, set[int]] = {}
    out = {}
    for contact in sorted(contacts, key=lambda c: c.user_id):
        used = taken.setdefault(username_key(contact.username), set())
        index = base_index(contact.user_id)
        if len(used) < len(DARK):
            while index in used:
                index = (index + 1) % len(DARK)
        used.add(index)
        out[contact.user_id] = index
    return out


def colour(index: int, dark: bool) -> str:
    return (DARK if dark else LIGHT)[index % len(DARK)]
