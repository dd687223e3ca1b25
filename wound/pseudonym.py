"""Keyed pseudonyms (HMAC-SHA256) for subject and wound identifiers: no real id reaches a
record or a key. The key is the platform's pseudonym key (``WOUND_PSEUDONYM_KEY`` or
``home/pseudonym.key``); see docs/storage.md."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sub-"
WOUND_PREFIX = "wnd-"
MAX_IDENTIFIER_CHARS = 256


def pseudonymise(identifier: str, key: bytes, *, prefix: str = PREFIX) -> str:
    """Stable pseudonym of ``identifier`` under ``key``; already-pseudonymised ids pass through.

    Raises ``ValueError`` (never echoing the identifier) for empty, over-long or non-printable
    input (control characters, lone surrogates).
    """
    if not isinstance(identifier, str):
        raise ValueError("identifier must be a string")
    if is_pseudonym(identifier, prefix=prefix):
        return identifier
    text = identifier.strip()
    if not text:
        raise ValueError("empty identifier")
    if len(text) > MAX_IDENTIFIER_CHARS or not text.isprintable():
        raise ValueError(
            f"identifier must be 1-{MAX_IDENTIFIER_CHARS} printable characters "
            "(no control characters)"
        )
    mac = hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
    return prefix + mac[:20]


def pseudonymise_wound(wound_id: str, subject: str, key: bytes) -> str:
    """Pseudonym of a wound label (``w1``, ``left heel``) of one subject (pseudonym), so equal
    labels of different subjects do not link."""
    if is_pseudonym(wound_id, prefix=WOUND_PREFIX):
        return wound_id
    pseudonymise(wound_id, key)  # the same checks on the label
    message = f"wound\x00{subject}\x00{wound_id.strip()}".encode()
    return WOUND_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()[:20]


def is_pseudonym(value: str, *, prefix: str = PREFIX) -> bool:
    body = value[len(prefix) :]
    return (
        value.startswith(prefix) and len(body) == 20 and all(c in "0123456789abcdef" for c in body)
    )
