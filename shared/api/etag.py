"""Entity tags: a strong tag from the bytes of the representation, and ``If-None-Match``."""

from __future__ import annotations

import hashlib


def etag_of(body: bytes) -> str:
    """A strong entity tag (quoted) of the uncompressed representation."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (``*``, lists, and weak ``W/`` forms count)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag in tags or etag.removeprefix("W/") in tags
