"""Payloads of what can be done to a message once sent: ``edit message``, ``delete
message`` and ``search`` (the rest of the wire is in protocol.py). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from chat_server.protocol import (
    ERR_EMPTY_QUERY,
    ERR_INVALID_BEFORE,
    ERR_INVALID_PAYLOAD,
    ERR_INVALID_QUERY,
    ERR_NO_SUCH_MESSAGE,
    ERR_UNKNOWN_USER,
    SEARCH_LIMIT_DEFAULT,
    SEARCH_LIMIT_MAX,
    SEARCH_QUERY_MAX,
    SEARCH_WORDS_MAX,
    ProtocolError,
    _content,
    _is_id,
    _is_message_id,
    _limit,
    is_int64,
)
from chat_server.text import search_words


@dataclass(frozen=True, slots=True)
class EditRequest:
    """A validated C->S ``edit message``: message ``id`` now says ``content``."""

    id: int
    content: str


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A validated C->S ``search``: messages holding every one of ``words`` (search_words
    form), newest first, older than ``before``, with ``peer`` only when given."""

    words: list[str]
    peer: str | None
    before: int | None
    limit: int


def _message_id(data: object) -> int:
    """The ``id`` of an ``edit message`` or ``delete message`` payload."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    msg_id = data.get("id")
    if not _is_message_id(msg_id):
        raise ProtocolError(ERR_NO_SUCH_MESSAGE)
    assert isinstance(msg_id, int)
    return msg_id


def parse_edit(data: object, max_length: int) -> EditRequest:
    """Validate a C->S ``edit message`` payload ``{id, content}`` (content as a send's)."""
    msg_id = _message_id(data)
    assert isinstance(data, dict)
    return EditRequest(id=msg_id, content=_content(data, max_length))


def parse_delete(data: object) -> int:
    """Validate a C->S ``delete message`` payload ``{id}``; returns the id."""
    return _message_id(data)


def parse_search(data: object) -> SearchRequest:
    """Validate a C->S ``search`` payload ``{query, with?, before?, limit?}``."""
    if not isinstance(data, dict):
        raise ProtocolError(ERR_INVALID_PAYLOAD)
    query = data.get("query")
    if not isinstance(query, str) or len(query) > SEARCH_QUERY_MAX:
        raise ProtocolError(ERR_INVALID_QUERY)
    words = list(dict.fromkeys(search_words(query)))  # each word once, in query order
    if not words:
        raise ProtocolError(ERR_EMPTY_QUERY)
    if len(words) > SEARCH_WORDS_MAX:
        raise ProtocolError(ERR_INVALID_QUERY)
    peer = data.get("with")
    if peer is not None and not _is_id(peer):
        raise ProtocolError(ERR_UNKNOWN_USER)
    before = data.get("before")
    if before is not None and not is_int64(before):
        raise ProtocolError(ERR_INVALID_BEFORE)
    limit = _limit(data, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX)
    return SearchRequest(
        words=words, peer=peer if isinstance(peer, str) else None, before=before, limit=limit
    )
