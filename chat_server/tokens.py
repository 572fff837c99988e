"""SessionIDs and userIDs: how they are drawn and how a sessionID is kept (hashed)."""

from __future__ import annotations

import hashlib
import re
import secrets

SESSION_ID_BYTES = 16  # 128 bits, drawn from the OS's CSPRNG
USER_ID_BYTES = 8  # public; the tutorial's 16 hex characters


def new_session_id() -> str:
    """A fresh secret sessionID: 32 lowercase hex characters (128 random bits)."""
    return secrets.token_hex(SESSION_ID_BYTES)


def new_user_id() -> str:
    """A fresh public userID: 16 lowercase hex characters, as in the tutorial."""
    return secrets.token_hex(USER_ID_BYTES)


_USER_ID = re.compile(f"[0-9a-f]{{{2 * USER_ID_BYTES}}}")  # new_user_id's shape


def is_user_id(value: object) -> bool:
    """Whether ``value`` has the shape of a userID (the Redis bus gives each its channel)."""
    return isinstance(value, str) and _USER_ID.fullmatch(value) is not None


def hash_session_id(session_id: str) -> bytes:
    """What the store keeps instead of the sessionID.

    A sessionID has 128 random bits, so a fast unsalted hash is enough: nobody can search
    that space, and a stolen database yields no usable credential.
    """
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).digest()
