"""Reading of F1 live-timing archive sessions (``/static/<year>/<meeting>/<session>/``).

An archive session holds one ``<Topic>.jsonStream`` file per topic; each line is
``HH:MM:SS.mmm`` (offset from the session's *stream start*) followed by a JSON delta, and the
first line starts with a UTF-8 byte-order mark. :func:`archive_messages` merges all topics into
one time-ordered stream of :class:`FeedMessage` with absolute UTC, given the stream start.

The stream start is not written anywhere; :func:`estimate_start_utc` derives it. FastF1 does the
same with telemetry (``Session._calculate_t0_date``: the latest of ``Utc - offset`` over
``CarData.z``/``Position.z`` entries). Without telemetry we use, in order of trust:

1. ``race_control``: race control messages carry their own ``Utc`` (to the second), published
   within a fraction of a second; the median of ``Utc - offset`` is the start. Checked against
   the 2024 British GP FP1 live capture: within 0.15 s.
2. ``schedule``: ``SessionInfo.StartDate`` (local time) minus ``GmtOffset`` is the scheduled
   start in UTC; aligned with the first ``SessionStatus`` ``Started`` offset. Off by however late
   the session started (a red-flag-free session starts on the minute; 1 s off in 2024 FP1).
3. ``scheduled_start``: no ``Started`` status: offset 0 is taken as the scheduled start.
4. ``path_date``: only the folder name is known: midnight UTC of its session date.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shared.feed.messages import FeedMessage, parse_utc
from shared.feed.recording import BAD_JSON, BAD_TIMESTAMP, Z_SUFFIX, LineError, ParseStats, decode_z

STREAM_SUFFIX = ".jsonStream"
_OFFSET = re.compile(r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})")
_PATH_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})_[^/]+/?$")


@dataclass(frozen=True)
class StreamAnchor:
    """The UTC instant of archive offset ``00:00:00.000`` and how it was worked out."""

    utc: datetime
    method: str


def parse_stream_line(line: str) -> tuple[timedelta, Any]:
    """``HH:MM:SS.mmm{json}`` -> (offset from stream start, decoded delta); raises LineError."""
    text = line.lstrip("\ufeff").strip()
    match = _OFFSET.match(text)
    if not match:
        raise LineError(BAD_TIMESTAMP, text[:20])
    h, m, s, ms = (int(g) for g in match.groups())
    try:
        payload = json.loads(text[match.end() :])
    except ValueError as exc:
        raise LineError(BAD_JSON, str(exc)) from exc
    return timedelta(hours=h, minutes=m, seconds=s, milliseconds=ms), payload


def _entries(text: str) -> Iterator[tuple[timedelta, Any]]:
    for line in text.splitlines():
        if line.strip():
            try:
                yield parse_stream_line(line)
            except LineError:
                continue


def _race_control_anchor(text: str) -> datetime | None:
    candidates: list[float] = []
    for offset, payload in _entries(text):
        messages = payload.get("Messages") if isinstance(payload, dict) else None
        items = messages.values() if isinstance(messages, dict) else messages or []
        for item in items:
            try:
                utc = parse_utc(item["Utc"])
            except (KeyError, TypeError, ValueError):
                continue
            candidates.append((utc - offset).timestamp())
    if not candidates:
        return None
    return datetime.fromtimestamp(round(statistics.median(candidates), 3), tz=UTC)


def scheduled_start_utc(session_info: Mapping[str, Any]) -> datetime | None:
    """``SessionInfo`` (or an Index.json session) -> scheduled start in UTC, if it says."""
    try:
        local = datetime.fromisoformat(str(session_info["StartDate"])).replace(tzinfo=None)
        sign = -1 if str(session_info["GmtOffset"]).startswith("-") else 1
        h, m, s = (int(p) for p in str(session_info["GmtOffset"]).lstrip("+-").split(":"))
    except (KeyError, ValueError):
        return None
    return (local - sign * timedelta(hours=h, minutes=m, seconds=s)).replace(tzinfo=UTC)


def index_session_info(index: Mapping[str, Any], session_path: str) -> dict[str, Any] | None:
    """The session entry of a season ``Index.json`` whose ``Path`` matches ``session_path``."""
    wanted = session_path.strip("/").split("static/")[-1]
    for meeting in index.get("Meetings") or []:
        for session in meeting.get("Sessions") or []:
            if isinstance(session, dict) and str(session.get("Path", "")).strip("/") == wanted:
                return session
    return None


def _first_started(text: str) -> timedelta | None:
    for offset, payload in _entries(text):
        if isinstance(payload, dict) and payload.get("Status") == "Started":
            return offset
    return None


def _last_state(text: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for _, payload in _entries(text):
        if isinstance(payload, dict):
            state.update(payload)
    return state


def estimate_start_utc(
    texts: Mapping[str, str],
    *,
    session_path: str | None = None,
    session_info: Mapping[str, Any] | None = None,
) -> StreamAnchor:
    """Work out the UTC instant of offset zero of an archive session (see module docstring).

    ``texts`` maps topic -> ``.jsonStream`` text; ``session_info`` may come from the season's
    Index.json when the session has no ``SessionInfo`` stream; ``session_path`` is the archive
    path (``2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race``). Raises ``ValueError``.
    """
    if "RaceControlMessages" in texts:
        anchor = _race_control_anchor(texts["RaceControlMessages"])
        if anchor is not None:
            return StreamAnchor(anchor, "race_control")
    info = session_info or (_last_state(texts["SessionInfo"]) if "SessionInfo" in texts else {})
    scheduled = scheduled_start_utc(info)
    if scheduled is not None:
        started = _first_started(texts["SessionStatus"]) if "SessionStatus" in texts else None
        if started is not None:
            return StreamAnchor(scheduled - started, "schedule")
        return StreamAnchor(scheduled, "scheduled_start")
    match = _PATH_DATE.search(session_path or "")
    if match:
        year, month, day = (int(g) for g in match.groups())
        return StreamAnchor(datetime(year, month, day, tzinfo=UTC), "path_date")
    raise ValueError("cannot anchor the archive session to UTC: no race control, schedule or path date")


def archive_messages(
    texts: Mapping[str, str], *, start_utc: datetime, stats: ParseStats | None = None
) -> Iterator[FeedMessage]:
    """All topics of one archive session merged into time order, with absolute UTC.

    ``texts`` maps topic name (file name without ``.jsonStream``; a ``.z`` topic is decoded) to
    the file's text; ``start_utc`` is offset zero (see :func:`estimate_start_utc`). Messages at the
    same offset keep the order of ``texts`` then of their lines. Bad lines are counted and skipped.
    """
    stats = stats if stats is not None else ParseStats()
    rows: list[tuple[timedelta, int, str, Any]] = []
    for topic, text in texts.items():
        compressed = topic.endswith(Z_SUFFIX)
        name = topic[: -len(Z_SUFFIX)] if compressed else topic
        for line in text.splitlines():
            if not line.strip():
                continue
            stats.lines += 1
            try:
                offset, payload = parse_stream_line(line)
                if compressed:
                    payload = decode_z(payload)
            except LineError as exc:
                stats.skipped[exc.reason] += 1
                continue
            rows.append((offset, len(rows), name, payload))
    rows.sort(key=lambda row: (row[0], row[1]))
    for offset, _, name, payload in rows:
        stats.messages += 1
        yield FeedMessage(name, payload, start_utc + offset)


def read_archive_dir(path: Path) -> dict[str, str]:
    """Topic -> text of every ``<Topic>.jsonStream`` in a local archive session folder."""
    texts: dict[str, str] = {}
    for file in sorted(path.glob(f"*{STREAM_SUFFIX}")):
        texts[file.name[: -len(STREAM_SUFFIX)]] = file.read_text(encoding="utf-8-sig", errors="replace")
    return texts
