"""What can be done to a message once it is sent (a part of ChatApp): edit and delete
your own, reply to any, copy its text, open its first link, jump to the message a reply
answers. The conversation's cursor asks (ConversationView.Act); this part checks, talks
to the server and tells the screens through signals (chat_tui.changes).

Against a server without these extensions (the tutorial's) every one of them except copy
and open says so plainly and changes nothing.
"""

from __future__ import annotations

import re
from typing import Final

from textual import on, work

from chat_server import protocol as p
from chat_tui import revisions, wire
from chat_tui.app_base import AppBase
from chat_tui.changes import Composing, Focus, Shown
from chat_tui.records import ChatMessage, Delivery
from chat_tui.screens.confirm import ConfirmScreen
from chat_tui.screens.search import Hit, SearchScreen
from chat_tui.widgets.composer import Composer
from chat_tui.widgets.cursor import Act

LINK: Final = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
UNSUPPORTED: Final = "This server does not support {what}."
AROUND_PAGE: Final = 25
SEARCH_PAGE: Final = 20


def first_link(text: str) -> str | None:
    """The first http(s) link in a message, without trailing punctuation."""
    found = LINK.search(text)
    return found.group(0).rstrip(".,;:!?)]}") if found else None


class Editing(AppBase):
    """The actions of the conversation's cursor, and the composer's edit and reply modes."""

    compose_mode: Composing | None = None

    # -- the cursor's actions ---------------------------------------------------------

    @on(Act)
    def act(self, event: Act) -> None:
        peer = self.state.open_id
        msg = event.message
        if peer is None:
            return
        if event.action == "copy":
            self._copy(msg)
        elif event.action == "open":
            self._open_link(msg)
        elif event.action in ("edit", "delete") and self._unsent(msg):
            self._fix_unsent(peer, msg, event.action)
        elif not self.server_acks:
            what = {
                "edit": "editing messages",
                "delete": "deleting messages",
                "reply": "replies",
                "original": "replies",
            }[event.action]
            self.notify(UNSUPPORTED.format(what=what), severity="warning", markup=False)
        elif event.action == "reply":
            self._compose(Composing("reply", peer, msg))
        elif event.action == "original":
            self.jump_to(peer, msg.reply_to)
        elif not self._own_and_stored(msg, event.action):
            return
        elif event.action == "edit":
            self._compose(Composing("edit", peer, msg, msg.content))
        elif event.action == "delete":

            def answered(yes: bool | None) -> None:
                if yes:
                    self.delete_message(peer, msg)

            self.push_screen(ConfirmScreen("Delete this message for both of you?"), answered)

    def _unsent(self, msg: ChatMessage) -> bool:
        """One of your messages the server refused (not sent: ✗)."""
        return msg.from_id == self.state.self_id and msg.delivery is Delivery.FAILED

    def _fix_unsent(self, peer: str, msg: ChatMessage, action: str) -> None:
        """``e`` on a refused message: its text goes back into the composer to be fixed
        and sent again; ``d``: it is thrown away (after asking). Either way it leaves the
        conversation (it is on this screen only: the server never stored it)."""
        if action == "edit":
            if self.state.discard(peer, msg):
                self._conversation_changed(peer, Shown.OPENED)
                self._compose(Composing("recall", peer, None, msg.content))
                self.compose_mode = None
                self.changes.focus.publish(Focus(None))
            return

        def answered(yes: bool | None) -> None:
            if yes and self.state.discard(peer, msg):
                self._conversation_changed(peer, Shown.OPENED)
                self.changes.focus.publish(Focus(None))

        self.push_screen(ConfirmScreen("Discard this unsent message?"), answered)

    def _own_and_stored(self, msg: ChatMessage, action: str) -> bool:
        verb = "edit" if action == "edit" else "delete"
        if msg.from_id != self.state.self_id:
            self.notify(f"Only its sender can {verb} a message.", markup=False, timeout=3)
        elif msg.deleted:
            self.notify("That message is deleted.", markup=False, timeout=3)
        elif msg.id is None or msg.delivery is not Delivery.SENT:
            self.notify(f"Wait until it is sent to {verb} it.", markup=False, timeout=3)
        else:
            return True
        return False

    def _copy(self, msg: ChatMessage) -> None:
        if msg.deleted:
            return
        self.copy_to_clipboard(msg.content)  # OSC 52: the terminal sets its clipboard
        self.notify("Copied (if your terminal allows OSC 52).", markup=False, timeout=2)

    def _open_link(self, msg: ChatMessage) -> None:
        link = first_link(msg.content)
        if link is None:
            self.notify("No link in that message.", markup=False, timeout=2)
            return
        self.open_url(link)

    # -- the composer's modes ---------------------------------------------------------

    def edit_last(self) -> bool:
        """Up in an empty composer: edit your last sent message here (gomuks)."""
        peer = self.state.open_id
        contact = self.state.contacts.get(peer or "")
        if contact is None or not self.server_acks:
            return False
        for msg in reversed(contact.messages):
            mine = msg.from_id == self.state.self_id and not msg.deleted
            if mine and msg.id is not None and msg.delivery is Delivery.SENT:
                self._compose(Composing("edit", contact.user_id, msg, msg.content))
                return True
        return False

    @on(Composer.EditLast)
    def composer_up(self, event: Composer.EditLast) -> None:
        if not self.edit_last() and event.last_sent and self.state.open_id is not None:
            self._compose(Composing("recall", self.state.open_id, None, event.last_sent))
            self.compose_mode = None

    @on(Composer.Cancel)
    def composer_escape(self, _: Composer.Cancel) -> None:
        self.cancel_compose()

    def _compose(self, composing: Composing | None) -> None:
        self.compose_mode = composing
        self.changes.compose.publish(composing)

    def cancel_compose(self) -> None:
        if self.compose_mode is not None:
            self._compose(None)

    def compose_submitted(self, to: str, text: str) -> bool:
        composing = self.compose_mode
        if composing is None or composing.kind != "edit" or composing.peer_id != to:
            return False
        self._compose(None)
        if composing.message is not None and text != composing.message.content:
            self.edit_message(to, composing.message, text)
        return True

    def take_reply(self, to: str) -> int | None:
        composing = self.compose_mode
        if composing is None or composing.kind != "reply" or composing.peer_id != to:
            return None
        self._compose(None)
        return composing.message.id if composing.message is not None else None

    # -- talking to the server --------------------------------------------------------

    @work(group="edits")
    async def edit_message(self, peer: str, msg: ChatMessage, text: str) -> None:
        ack = await self._ask(p.EDIT_MESSAGE, {"id": msg.id, "content": text})
        edited = wire.parse_message(ack.get("message")) if isinstance(ack, dict) else None
        if edited is not None and (placed := revisions.apply_edit(self.state, edited)) is not None:
            self._conversation_changed(placed[0], Shown.CHANGED, placed[1])
        elif edited is None:
            self._refused("edit", ack)

    @work(group="edits")
    async def delete_message(self, peer: str, msg: ChatMessage) -> None:
        ack = await self._ask(p.DELETE_MESSAGE, {"id": msg.id})
        if isinstance(ack, dict) and ack.get("ok") is True:
            placed = revisions.apply_delete(self.state, msg.id or 0, msg.from_id, msg.to_id)
            if placed is not None:
                self._conversation_changed(placed[0], Shown.CHANGED, placed[1])
        else:
            self._refused("delete", ack)

    async def _ask(self, event: str, payload: dict[str, object]) -> object:
        try:
            return await self.client.call(event, payload)
        except (ConnectionError, TimeoutError):
            return {"error": "not connected"}

    def _refused(self, verb: str, ack: object) -> None:
        if not self.exiting:
            why = wire.error_of(ack) or "no answer"
            self.notify(f"Could not {verb} it: {why}.", severity="warning", markup=False)

    # -- jumping to a message ---------------------------------------------------------

    @work(group="jump", exclusive=True)
    async def jump_to(self, peer: str, message_id: int | None) -> None:
        """Put the cursor on a message of this conversation, loading it (and what lies
        around it) when it is not in memory."""
        if message_id is None:
            return
        if (found := revisions.find(self.state, peer, message_id)) is None:
            ack = await self._ask(
                p.HISTORY, {"with": peer, "around": message_id, "limit": AROUND_PAGE}
            )
            page = wire.parse_history_ack(ack)
            if page is None:
                self._refused("find that message", ack)
                return
            revisions.show_window(self.state, peer, page[0], page[1], wire.has_newer(ack))
            found = revisions.find(self.state, peer, message_id)
            if peer == self.state.open_id:
                self._conversation_changed(peer, Shown.OPENED)
        if peer == self.state.open_id and found is not None:
            self.changes.focus.publish(Focus(found))

    # -- search -----------------------------------------------------------------------

    def action_search(self) -> None:
        if isinstance(self.screen, SearchScreen):  # Ctrl+F in the search: its scope
            self.screen.action_scope()
            return
        if not self.server_acks:
            self.notify(UNSUPPORTED.format(what="search"), severity="warning", markup=False)
            return
        names = self.state.names()
        open_id = self.state.open_id

        def chosen(hit: Hit | None) -> None:
            if hit is None:
                return
            if hit.peer_id != self.state.open_id:
                self.open_conversation(hit.peer_id)
            self.jump_to(hit.peer_id, hit.message_id)

        screen = SearchScreen(
            self.search_messages,
            names,
            self.state.self_id,
            open_id,
            names.get(open_id or "", ""),
            self.state.colours(self.current_theme.dark),
        )
        self.push_screen(screen, chosen)

    async def search_messages(
        self, query: str, with_id: str | None, before: int | None
    ) -> tuple[list[ChatMessage], bool] | str:
        payload: dict[str, object] = {"query": query, "limit": SEARCH_PAGE}
        if with_id is not None:
            payload["with"] = with_id
        if before is not None:
            payload["before"] = before
        ack = await self._ask(p.SEARCH, payload)
        if (error := wire.error_of(ack)) is not None:
            return error
        page = wire.parse_history_ack(ack)
        return page if page is not None else "no answer"
