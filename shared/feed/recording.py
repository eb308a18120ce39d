"""Parsing of recorded live-feed captures, in any of the four shapes clients write them.

One line (or one WebSocket frame) may be:

* a classic SignalR hub invocation ``{"H": "Streaming", "M": "feed", "A": [topic, payload, utc]}``
  or a whole classic frame ``{"C": cursor, "M": [invocation, ...]}``;
* SignalR Core frames ``{"type": 1, "target": "feed", "arguments": [topic, payload, utc]}``,
  several per line when separated by the record separator ``\\x1e``;
* FastF1's recording line: ``str()`` of ``[topic, payload, utc]``, a *Python* literal (single
  quotes, ``True``), read with :func:`ast.literal_eval` (literals only, never code);
* undercut-f1's ``{"Type": topic, "Json": payload, "DateTime": utc}``.

``utc`` is when F1 published the message (UTC). Topics ending in ``.z`` (``CarData.z``,
``Position.z``) carry base64 of raw-deflate JSON and are decoded into the un-suffixed topic.
Malformed lines are skipped and counted in :class:`ParseStats`; parsing never raises on data.
"""

from __future__ import annotations

import ast
import base64
import binascii
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.feed.messages import FeedMessage, parse_utc

RECORD_SEPARATOR = "\x1e"
Z_SUFFIX = ".z"
# Live captures are in arrival order; F1's publishers (timing, radio, heartbeat) are a few
# seconds apart at worst (3.7 s in the 2024 Silverstone capture). Further back is corruption.
DEFAULT_REORDER_TOLERANCE = timedelta(seconds=5)

BAD_JSON = "bad_json"
TRUNCATED = "truncated"
UNKNOWN_SHAPE = "unknown_shape"
BAD_BASE64 = "bad_base64"
BAD_TIMESTAMP = "bad_timestamp"
OUT_OF_ORDER = "out_of_order"


class LineError(ValueError):
    """A line that cannot become a feed message; ``reason`` is one of the skip reasons above."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class ParseStats:
    """What :func:`read_recording` made of its input.

    ``skipped`` counts dropped lines or frames by reason (``bad_json``, ``truncated``,
    ``unknown_shape``, ``bad_base64``, ``bad_timestamp``, ``out_of_order``); ``ignored`` counts
    well-formed frames that are not feed data (pings, handshakes, keep-alives, other hub calls).
    """

    lines: int = 0
    messages: int = 0
    ignored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def decode_z(data: Any) -> Any:
    """Decode a ``.z`` payload: base64 of raw-deflate (no zlib header) JSON."""
    if not isinstance(data, str):
        raise LineError(BAD_BASE64, "compressed payload is not a string")
    try:
        raw = base64.b64decode(data, validate=True)
        text = zlib.decompress(raw, -zlib.MAX_WBITS)
        return json.loads(text)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise LineError(BAD_BASE64, str(exc)) from exc


def encode_z(payload: Any) -> str:
    """Encode a payload as a ``.z`` topic carries it (inverse of :func:`decode_z`)."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = compressor.compress(json.dumps(payload, separators=(",", ":")).encode()) + compressor.flush()
    return base64.b64encode(raw).decode("ascii")


def _message(args: Any) -> FeedMessage:
    """``[topic, payload, utc]`` -> message; raises :class:`LineError`."""
    if not isinstance(args, list | tuple):
        raise LineError(UNKNOWN_SHAPE, "feed arguments are not a list")
    if len(args) < 3:
        raise LineError(TRUNCATED, f"{len(args)} of 3 feed arguments")
    topic, payload, utc = args[0], args[1], args[2]
    if not isinstance(topic, str) or not topic:
        raise LineError(UNKNOWN_SHAPE, "topic is not a string")
    try:
        when = parse_utc(utc)
    except (TypeError, ValueError) as exc:
        raise LineError(BAD_TIMESTAMP, repr(utc)) from exc
    if topic.endswith(Z_SUFFIX):
        return FeedMessage(topic[: -len(Z_SUFFIX)], decode_z(payload), when)
    return FeedMessage(topic, payload, when)


def _from_object(obj: dict[str, Any]) -> list[FeedMessage]:
    """Messages in one decoded JSON object; [] for frames that are not feed data."""
    if "Type" in obj and "DateTime" in obj:  # undercut-f1 capture
        return [_message([obj["Type"], obj.get("Json"), obj["DateTime"]])]
    if "type" in obj:  # SignalR Core
        if obj["type"] == 1 and str(obj.get("target", "")).lower() == "feed":
            return [_message(obj.get("arguments"))]
        return []
    if isinstance(obj.get("M"), list):  # classic frame {"C": ..., "M": [...]}
        out: list[FeedMessage] = []
        for inner in obj["M"]:
            if isinstance(inner, dict):
                out.extend(_from_object(inner))
        return out
    if "H" in obj and "M" in obj:  # classic hub invocation
        if str(obj["M"]).lower() == "feed":
            return [_message(obj.get("A"))]
        return []
    if not obj or "R" in obj or "I" in obj or "S" in obj or "E" in obj:
        return []  # keep-alive, subscribe result, init or error frame
    raise LineError(UNKNOWN_SHAPE, f"object with keys {sorted(obj)[:5]}")


def _decode_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    if not text.startswith("["):
        raise LineError(TRUNCATED if text.startswith("{") and not text.endswith("}") else BAD_JSON)
    try:
        return ast.literal_eval(text)  # FastF1's str(list) lines; literals only
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        reason = BAD_JSON if text.endswith("]") else TRUNCATED
        raise LineError(reason, type(exc).__name__) from exc


def parse_line(line: str) -> list[FeedMessage]:
    """Parse one recorded line (or WebSocket text frame) into feed messages.

    Returns ``[]`` for frames that are valid but carry no feed data (pings, handshakes); raises
    :class:`LineError` with a ``reason`` for anything malformed.
    """
    out: list[FeedMessage] = []
    for record in line.split(RECORD_SEPARATOR):
        text = record.strip().lstrip("\ufeff")
        if not text:
            continue
        value = _decode_text(text)
        if isinstance(value, dict):
            out.extend(_from_object(value))
        elif isinstance(value, list):
            out.append(_message(value))
        else:
            raise LineError(UNKNOWN_SHAPE, type(value).__name__)
    return out


def read_recording(
    lines: Iterable[str],
    stats: ParseStats | None = None,
    *,
    reorder_tolerance: timedelta = DEFAULT_REORDER_TOLERANCE,
) -> Iterator[FeedMessage]:
    """Yield the feed messages of a recording in arrival order, skipping and counting bad lines.

    A message stamped more than ``reorder_tolerance`` before the latest one already yielded is
    treated as corrupt and skipped (``out_of_order``); smaller steps back are normal jitter between
    F1's publishers and kept in arrival order.
    """
    stats = stats if stats is not None else ParseStats()
    latest: datetime | None = None
    for line in lines:
        if not line.strip():
            continue
        stats.lines += 1
        try:
            messages = parse_line(line)
        except LineError as exc:
            stats.skipped[exc.reason] += 1
            continue
        if not messages:
            stats.ignored += 1
        for message in messages:
            if latest is not None and message.utc < latest - reorder_tolerance:
                stats.skipped[OUT_OF_ORDER] += 1
                continue
            latest = message.utc if latest is None else max(latest, message.utc)
            stats.messages += 1
            yield message


def load_snapshot(subscribe_json: str | dict[str, Any]) -> dict[str, Any]:
    """Topic -> state from the hub's answer to ``Subscribe`` (``subscribe.json``).

    Accepts the bare result object or a whole SignalR Core completion / classic ``{"R": ...}``
    frame; ``.z`` topics are decoded into their un-suffixed topic.
    """
    data: Any = json.loads(subscribe_json) if isinstance(subscribe_json, str) else subscribe_json
    if isinstance(data, dict) and isinstance(data.get("result"), dict) and data.get("type") == 3:
        data = data["result"]
    elif isinstance(data, dict) and isinstance(data.get("R"), dict):
        data = data["R"]
    if not isinstance(data, dict):
        raise ValueError("subscribe snapshot is not a JSON object")
    states: dict[str, Any] = {}
    for topic, state in data.items():
        if topic.endswith(Z_SUFFIX):
            states[topic[: -len(Z_SUFFIX)]] = decode_z(state)
        else:
            states[topic] = state
    return states
