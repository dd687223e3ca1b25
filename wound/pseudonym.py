"""Keyed pseudonyms for subject identifiers (HMAC-SHA256): no real id reaches a record or key."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sub-"


def pseudonymise(identifier: str, key: bytes) -> str:
    """Stable pseudonym of ``identifier`` under ``key``; already-pseudonymised ids pass through."""
    if is_pseudonym(identifier):
        return identifier
    if not identifier.strip():
        raise ValueError("empty subject identifier")
    mac = hmac.new(key, identifier.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + mac[:20]


def is_pseudonym(value: str) -> bool:
    body = value[len(PREFIX) :]
    return (
        value.startswith(PREFIX) and len(body) == 20 and all(c in "0123456789abcdef" for c in body)
    )
