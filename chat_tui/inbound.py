"""What the connection reports, applied to the state (a part of ChatApp).

Every message of the connection comes through one handler, which ignores them once the
app is exiting (its screens may be gone already); each kind has its own typed handler.
None looks a widget up: they change the state and publish (chat_tui.changes).
"""

from __future__ import annotations

import time
from functools import singledispatchmethod

from textual import on

from chat_tui import messages as m
from chat_tui import revisions
from chat_tui.changes import LinkState, Shown
from chat_tui.liveness import Liveness
from chat_tui.records import RosterEntry
from chat_tui.render import clock_ms, one_line
from chat_tui.screens.chat import ChatScreen
from chat_tui.screens.login import LoginScreen
from chat_tui.session_file import Session


class Inbound(Liveness):
    """The server's side of the app."""

    _login_name: str | None
    _cached_pick: str | None = None  # the conversation the cache's roster opened

    def _chat_screen(self) -> ChatScreen:
        return ChatScreen(self.state, self.changes, lambda: self.status)

    # -- what the connection reports ----------------------------------------------------

    @on(m.ServerMessage)
    def from_server(self, message: m.ServerMessage) -> None:
        """Every message of the connection comes through here; none is applied once the
        app is exiting (its screens may be gone already)."""
        if not self.exiting:
            self._apply(message)

    @singledispatchmethod
    def _apply(self, message: m.ServerMessage) -> None:
        raise TypeError(f"no handler for {type(message).__name__}")

    @_apply.register
    def _connecting(self, message: m.Connecting) -> None:
        self._set_status(LinkState.CONNECTING, f"{self.server_url} (attempt {message.attempt})")
        if isinstance(self.screen, LoginScreen):
            suffix = f" (attempt {message.attempt})" if message.attempt > 1 else ""
            self.screen.show_progress(f"connecting…{suffix}")

    @_apply.register
    def _connected(self, _: m.Connected) -> None:
        self.state.set_self_connected(True)
        self._set_status(LinkState.CONNECTED, self.server_url)
        self.changes.roster.publish(None)
        # "users" arrives before connect() returns, so its kick may have found no link yet
        self.kick_outbox()
        self.send_reads_soon()  # markers the last connection did not get to send

    @_apply.register
    def _disconnected(self, _: m.Disconnected) -> None:
        self.state.set_self_connected(False)
        self._set_status(LinkState.OFFLINE, "connection lost")
        self.changes.roster.publish(None)

    @_apply.register
    def _retrying(self, message: m.Retrying) -> None:
        self.state.set_self_connected(False)
        detail = (
            f"attempt {message.attempt + 1} in {message.delay:.1f}s "
            f"({one_line(message.reason, 40)})"
        )
        self._set_status(LinkState.RECONNECTING, detail)
        self.changes.roster.publish(None)
        if isinstance(self.screen, LoginScreen):
            self.screen.show_progress(
                f"{one_line(message.reason, 120)}\n"
                f"attempt {message.attempt + 1} in {message.delay:.0f} s"
                " · Ctrl+R tries now"
            )

    @_apply.register
    def _stopped(self, message: m.Stopped) -> None:
        self.state.set_self_connected(False)
        self._set_status(LinkState.STOPPED, message.reason)
        self.changes.roster.publish(None)
        self.notify(message.reason, title="Stopped", severity="error", markup=False)

    @_apply.register
    def _refused(self, message: m.Refused) -> None:
        reason = message.reason or message.message
        if isinstance(self.screen, LoginScreen):
            self.screen.show_error(f"refused: {reason}")
            return
        old = self.session.username if self.session else (self._login_name or "")
        notice = (
            "The server no longer knows your session (it was ended, or the server lost "
            "its data). Pick a name to log in again."
            if self.session
            else f"The server refused the name: {reason}"
        )
        self.session = None
        self.cache.forget()
        self.state.reset()
        self.switch_screen(LoginScreen(self.server_url, username=old, notice=notice))

    @_apply.register
    def _session_started(self, message: m.SessionStarted) -> None:
        username = self._login_name or (self.session.username if self.session else "")
        self.session = Session(message.session_id, message.user_id, username, self.server_url)
        self.session_file.save(self.session)
        self.client.auth = {"sessionID": message.session_id}
        self.state.self_id = message.user_id
        self.state.max_length = message.max_length
        if isinstance(self.screen, LoginScreen):
            self.switch_screen(self._chat_screen())

    @_apply.register
    def _roster_received(self, message: m.RosterReceived) -> None:
        self.show_roster(message.entries, message.extended)
        self.save_cache()

    def show_roster(self, entries: list[RosterEntry], extended: bool, cached: bool = False) -> None:
        """A roster snapshot: the server's, or the cache's at start (``cached``)."""
        self.server_acks = extended
        self.state.apply_users(entries)
        for contact in self.state.contacts.values():
            contact.muted = contact.user_id in self.prefs.muted
        me = self.state.contacts.get(self.state.self_id or "")
        if me is not None and self.session is not None and me.username != self.session.username:
            self.session = Session(
                self.session.sessionID, self.session.userID, me.username, self.server_url
            )
            self.session_file.save(self.session)
        self._restore_outbox()
        # what the cache opened is chosen again from the server's snapshot (its unread
        # counts), unless the user has moved on since
        picked = self._cached_pick
        repick = not cached and picked is not None and picked == self.state.open_id
        self._cached_pick = None
        if self.state.open_id not in self.state.contacts or repick:
            others = [c.user_id for c in self.state.ordered() if c.user_id != self.state.self_id]
            # the conversation open when chat-tui last stopped (not your own notes: those
            # open when nobody else is there), else the first with unread messages
            last = self.prefs.last_open
            if last not in self.state.contacts or last == self.state.self_id:
                last = None
            first = (
                last or self.state.next_unread() or (others[0] if others else self.state.step(1))
            )
            if first is not None:
                self.open_conversation(first)
                self._cached_pick = first if cached else None
        elif self.state.open_id is not None:
            self._conversation_changed(self.state.open_id, Shown.OPENED)
        self.changes.roster.publish(None)
        self.save_hidden()  # written to while away: shown again
        self.kick_outbox()

    def _restore_outbox(self) -> None:
        """Messages left in the outbox by an earlier run are shown as pending again."""
        for item in self.outbox.items:
            contact = self.state.contacts.get(item.to)
            if contact is None or any(msg.client_id == item.client_id for msg in contact.messages):
                continue
            self.state.add_own(item.to, item.content, item.client_id)

    @_apply.register
    def _user_online(self, message: m.UserOnline) -> None:
        self.state.apply_user_connected(message.entry)
        self.changes.roster.publish(None)

    @_apply.register
    def _user_offline(self, message: m.UserOffline) -> None:
        self.state.apply_user_disconnected(message.user_id, clock_ms())
        self.changes.roster.publish(None)

    @_apply.register
    def _user_deleted(self, message: m.UserDeleted) -> None:
        was_open = message.user_id == self.state.open_id
        self.state.remove(message.user_id)
        if was_open and (target := self.state.step(1)) is not None:
            self.open_conversation(target)
        self.changes.roster.publish(None)

    @_apply.register
    def _message_received(self, message: m.MessageReceived) -> None:
        msg = message.message
        if msg.ts is None and not self.server_acks:
            msg.ts = clock_ms()  # a server without times: ours
        placed = self.state.receive(msg, watching=self.app_focus)
        if placed is None:
            return
        contact, shown = placed
        is_open = contact.user_id == self.state.open_id
        if is_open:
            self._conversation_changed(contact.user_id, Shown.APPENDED)
        self.changes.roster.publish(None)  # unread counts, and typing ends
        if shown.from_id != self.state.self_id and not (is_open and self.app_focus):
            self.announce(contact.user_id, shown)
        self.save_hidden()  # a hidden conversation shows again

    @_apply.register
    def _read_received(self, message: m.ReadReceived) -> None:
        contact = self.state.apply_read(message.by, message.with_id, message.up_to, message.at_ms)
        if contact is None:
            return
        if message.by == self.state.self_id:
            if self._reads.get(contact.user_id, 0) <= message.up_to:
                self._reads.pop(contact.user_id, None)  # another tab sent it already
            self.changes.roster.publish(None)
        elif contact.user_id == self.state.open_id:
            self._conversation_changed(contact.user_id, Shown.RECEIPT)

    @_apply.register
    def _message_edited(self, message: m.MessageEdited) -> None:
        if (placed := revisions.apply_edit(self.state, message.message)) is not None:
            self._conversation_changed(placed[0], Shown.CHANGED, placed[1])

    @_apply.register
    def _message_deleted(self, message: m.MessageDeleted) -> None:
        placed = revisions.apply_delete(
            self.state, message.message_id, message.from_id, message.to_id
        )
        if placed is not None:
            self._conversation_changed(placed[0], Shown.CHANGED, placed[1])
            self.changes.roster.publish(None)  # an unread one may have gone

    @_apply.register
    def _typing_received(self, message: m.TypingReceived) -> None:
        if self.state.set_typing(message.user_id, message.typing, time.monotonic()):
            self.changes.roster.publish(None)
