"""Texts per subscriber and payloads per channel.

* :func:`render`: the occurrence's title and body with ``{start}``/``{was}`` as wall-clock times
  in the subscriber's zone (``Sun 29 Apr 14:10 CEST``) and ``{in}`` as the time left
  (``in 30 min``); bodies are cut to :data:`MAX_BODY` characters (a push notification's line).
* :func:`webhook_body`: the signed JSON a webhook receives (compact, keys sorted).
* :func:`push_message`: title, body, string data and time-to-live for FCM.
* :func:`ops_alert`: the Slack text for ops when a gap-import run had failures (a generic summary:
  ``season, processed, succeeded, partial, failed, calls_spent, calls_left, duration_s`` and,
  when present, ``run_id`` and per-session outcomes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from shared.notify.model import Topic
from shared.notify.occurrences import Occurrence

MAX_TITLE, MAX_BODY = 80, 240
# How long a push stays worth delivering to a phone that is offline, by topic (seconds).
_PUSH_TTL_S = {
    Topic.SC: 900, Topic.VSC: 900, Topic.RED_FLAG: 1800, Topic.SESSION_DELAYED: 3600,
    Topic.RESULTS: 86_400, Topic.SCHEDULE_CHANGED: 86_400, Topic.PREDICTION_SWING: 600,
}  # fmt: skip


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str


def format_local(utc: datetime, time_zone: str) -> str:
    """``utc`` as a short wall-clock time in ``time_zone``: ``Sun 29 Apr 14:10 CEST``."""
    local = utc.astimezone(ZoneInfo(time_zone))
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def in_words(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes == 0:
        return "now"
    if minutes < 60:
        return f"in {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"in {hours} h" + (f" {rest:02d} min" if rest else "")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def render(occ: Occurrence, *, time_zone: str, now: datetime) -> Rendered:
    values = {
        "start": format_local(occ.starts_utc, time_zone) if occ.starts_utc else "",
        "was": format_local(occ.was_utc, time_zone) if occ.was_utc else "",
        "in": in_words(occ.starts_utc - now) if occ.starts_utc else "",
    }

    def fill(template: str) -> str:
        out = template
        for key, value in values.items():
            out = out.replace("{" + key + "}", value)
        return out

    return Rendered(_cut(fill(occ.title), MAX_TITLE), _cut(fill(occ.body), MAX_BODY))


def webhook_body(
    occ: Occurrence, text: Rendered, *, delivery_id: str, subscription_id: str, sent_utc: datetime
) -> bytes:
    """The JSON body of a webhook delivery (what the signature covers, byte for byte)."""
    doc = {
        "delivery_id": delivery_id,
        "occurrence_id": occ.occurrence_id,
        "topic": occ.topic.value,
        "topics": [t.value for t in occ.topics],
        "title": text.title,
        "body": text.body,
        "utc": occ.utc.isoformat(),
        "session_id": occ.session_id,
        "meeting_id": occ.meeting_id,
        "starts_utc": occ.starts_utc.isoformat() if occ.starts_utc else None,
        "subscription_id": subscription_id,
        "sent_utc": sent_utc.isoformat(),
        "data": occ.data,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class PushMessage:
    title: str
    body: str
    data: dict[str, str]  # FCM data values must be strings
    ttl_s: int


def push_message(occ: Occurrence, text: Rendered, *, now: datetime) -> PushMessage:
    if occ.expires_utc is not None:
        ttl = max(60, int((occ.expires_utc - now).total_seconds()))
    else:
        ttl = _PUSH_TTL_S.get(occ.topic, 3600)
    data = {"occurrence_id": occ.occurrence_id, "topic": occ.topic.value}
    data |= {k: v for k, v in (("session_id", occ.session_id), ("meeting_id", occ.meeting_id)) if v}
    return PushMessage(text.title, text.body, data, ttl)


class ImportSummary(BaseModel):
    """An ``import-events`` message as notify reads it: any fields; these are used when present."""

    model_config = ConfigDict(extra="allow")

    run_id: str | None = None
    season: int | None = None
    processed: int = 0
    succeeded: int = 0
    partial: int = 0
    failed: int = 0
    unavailable: int = 0
    deferred: list[str] = []
    calls_spent: int | None = None
    calls_left: int | None = None
    duration_s: float | None = None
    sessions: list[dict[str, Any]] = []


@dataclass(frozen=True)
class OpsAlert:
    alert_id: str  # stable across redeliveries: the run id, else a digest of the summary
    text: str


def ops_alert(summary: ImportSummary) -> OpsAlert:
    """The Slack text of one gap-import run: the counts, then the failed and partial sessions."""
    digest = hashlib.sha256(summary.model_dump_json().encode()).hexdigest()[:16]
    season = f" {summary.season}" if summary.season is not None else ""
    calls = ""
    if summary.calls_spent is not None:
        calls = f"; {summary.calls_spent} calls spent"
        calls += f", {summary.calls_left} left" if summary.calls_left is not None else ""
    took = f"; {summary.duration_s:.0f} s" if summary.duration_s is not None else ""
    bad = summary.failed > 0 or summary.partial > 0
    unavailable = f", {summary.unavailable} unavailable upstream" if summary.unavailable else ""
    deferred = f"; {len(summary.deferred)} deferred" if summary.deferred else ""
    head = (
        f"{':warning:' if bad else ':white_check_mark:'} *Gap import{season}*: {summary.failed} failed, "
        f"{summary.partial} partial of {summary.processed} processed ({summary.succeeded} complete"
        f"{unavailable}){calls}{deferred}{took}"
    )
    failed = [s for s in summary.sessions if s.get("status") in ("failed", "partial")]
    lines = [head] + [
        f"- {s.get('session_id', '?')}: {s.get('status')}" + (f" ({s['error']})" if s.get("error") else "")
        for s in failed[:10]
    ]
    if len(failed) > 10:
        lines.append(f"- ... and {len(failed) - 10} more")
    return OpsAlert(f"imports:{summary.run_id or digest}", "\n".join(lines))
