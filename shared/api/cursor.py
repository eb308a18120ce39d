"""Cursor pagination for long lists (laps, meetings, races).

A cursor is opaque to clients: URL-safe base64 of ``{"k": <sort key of the last item>, "q": <hash
of the list's filters>}``. The next page holds the items whose sort key follows ``k``, so a page
never repeats or skips an item when the list grows at its end (a live session's laps). A cursor
made for other filters, or one that cannot be decoded, is a 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from shared.api.problem import ApiError, ParamIssue

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 512


def _scope(filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(filters, sort_keys=True, default=str).encode()).hexdigest()[:12]


def encode(key: Sequence[Any], filters: dict[str, Any]) -> str:
    raw = json.dumps({"k": list(key), "q": _scope(filters)}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad(detail: str) -> ApiError:
    issue = ParamIssue(where="query", name="cursor", message=detail)
    return ApiError(400, f"query parameter 'cursor' {detail}", errors=[issue])


def decode(cursor: str, filters: dict[str, Any]) -> list[Any]:
    """The sort key a cursor resumes after; 400 if it is not one of ours or is for other filters."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _bad("is too long")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key, scope = data["k"], data["q"]
    except (ValueError, binascii.Error, KeyError, TypeError, UnicodeDecodeError):
        raise _bad("is not a cursor this API returned") from None
    if scope != _scope(filters) or not isinstance(key, list):
        raise _bad("belongs to a list with other filters")
    return key


def page(
    items: Sequence[T],
    *,
    key: Callable[[T], Sequence[Any]],
    limit: int,
    cursor: str | None,
    filters: dict[str, Any],
) -> tuple[list[T], str | None]:
    """``(items of this page, cursor of the next or None)``; ``items`` must be sorted by ``key``."""
    start = 0
    if cursor:
        after = decode(cursor, filters)
        start = next((i for i, item in enumerate(items) if _after(list(key(item)), after)), len(items))
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return chunk, encode(key(chunk[-1]), filters) if more and chunk else None


def _after(a: list[Any], b: list[Any]) -> bool:
    """Whether sort key ``a`` follows ``b`` (keys compare element-wise, as JSON round-trips them)."""
    try:
        return bool(a > b)
    except TypeError:
        return [str(x) for x in a] > [str(x) for x in b]
