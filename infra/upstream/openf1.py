"""OpenF1 query semantics (``/v1/<endpoint>?...``), pure: no I/O beyond the records passed in.

Mirrors the real API (br-g/openf1, ``services/query_api``):

* Each ``&``-separated part of the RAW query string is ``<field><op><value>`` with ``op`` one of
  ``>=``, ``<=``, ``=``, ``>``, ``<``. ``lap_number>=10`` must not be read by a standard parser
  (it would give the key ``lap_number>``), and ``lap_number>10`` has no ``=`` at all.
* Values are cast like OpenF1 does: ``true``/``false`` -> bool, then int, then float, then an
  ISO 8601 date (naive means UTC), else the string. ``gmt_offset`` and ``team_colour`` stay
  strings. A date without a time means the whole UTC day: ``date_start=2024-09-22`` matches that
  day, ``>2024-09-22`` means from the next day on, ``<=2024-09-22`` includes that day.
* Several ``=`` values of one field are OR'ed; everything else is AND'ed.
* ``session_key=latest`` / ``meeting_key=latest`` resolve to the most recent session/meeting.
* ``csv=true`` asks for CSV (columns sorted by name, as OpenF1 does).
* Results are sorted like OpenF1's ``sort_results``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

Value = str | bool | int | float | datetime
Record = dict[str, Any]

OPERATORS = ("=", ">", "<", ">=", "<=")
# Fields whose values look like numbers or times but are strings in OpenF1 ("08:00:00", "3671C6").
_STRING_FIELDS = frozenset({"gmt_offset", "team_colour"})
# OpenF1's sort keys, in priority order; only keys present and non-null in every result are used.
_SORT_KEYS = (
    "date",
    "date_start",
    "meeting_key",
    "session_key",
    "lap_start",
    "lap_number",
    "lap_end",
    "date_end",
    "driver_number",
)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A "+" in a query string decodes to a space; put it back in a UTC offset ("12:00:00 02:00").
_OFFSET_AS_SPACE = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


class QueryError(ValueError):
    """A query-string part that OpenF1 cannot interpret (no operator, empty field, bad csv=)."""


@dataclass(frozen=True)
class Filter:
    """One ``<field><op><value>`` condition. ``whole_day``: the value was a date with no time."""

    field: str
    op: str
    value: Value
    whole_day: bool = False


def cast_value(field: str, raw: str) -> tuple[Value, bool]:
    """Cast a query value like OpenF1; returns ``(value, whole_day)``. Dates become aware UTC."""
    if field in _STRING_FIELDS:
        return raw, False
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true", False
    try:
        return int(raw), False
    except ValueError:
        pass
    try:
        return float(raw), False
    except ValueError:
        pass
    parsed = parse_datetime(_OFFSET_AS_SPACE.sub(r"\1+\2", raw))
    if parsed is not None:
        return parsed, bool(_DATE_ONLY.match(raw))
    return raw, False


def parse_datetime(text: str) -> datetime | None:
    """ISO 8601 date or date-time -> aware UTC datetime (naive means UTC); ``None`` if not a date."""
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_query(raw_qs: str) -> list[Filter]:
    """Parse a raw query string (without ``?``) into filters, in the order given."""
    filters: list[Filter] = []
    for part in raw_qs.split("&"):
        if not part:
            continue
        text = unquote_plus(part)
        match = re.search(r"[<>=]", text)
        if match is None:
            raise QueryError(f"no valid operator found in {text!r}")
        pos = match.start()
        op = text[pos]
        if op in "<>" and text[pos + 1 : pos + 2] == "=":
            op += "="
        field = text[:pos].strip().lower()
        if not field:
            raise QueryError(f"missing field name in {text!r}")
        raw_value = text[pos + len(op) :]
        value, whole_day = cast_value(field, raw_value)
        filters.append(Filter(field=field, op=op, value=value, whole_day=whole_day))
    return filters


def pop_csv(filters: Sequence[Filter]) -> tuple[bool, list[Filter]]:
    """Split off the ``csv`` option: ``(wants_csv, remaining filters)``."""
    wants = False
    rest: list[Filter] = []
    for flt in filters:
        if flt.field != "csv":
            rest.append(flt)
            continue
        if flt.op != "=" or not isinstance(flt.value, bool):
            raise QueryError(f"invalid value for parameter csv ({flt.value!r}); expected true or false")
        wants = flt.value
    return wants, rest


def resolve_latest(
    filters: Sequence[Filter], *, sessions: Sequence[Record], meetings: Sequence[Record]
) -> list[Filter]:
    """Replace ``session_key=latest`` / ``meeting_key=latest`` by the key of the newest one.

    "Newest" is the greatest ``date_start`` (UTC). With no sessions/meetings the value stays
    ``"latest"`` and so matches nothing.
    """
    sources = {"session_key": sessions, "meeting_key": meetings}
    out: list[Filter] = []
    for flt in filters:
        records = sources.get(flt.field)
        resolved = flt
        if records and flt.value == "latest":
            dated = [(parse_datetime(str(r.get("date_start") or "")), r) for r in records]
            dated_ok = [(d, r) for d, r in dated if d is not None and flt.field in r]
            if dated_ok:
                newest = max(dated_ok, key=lambda pair: pair[0])[1]
                resolved = replace(flt, value=newest[flt.field])
        out.append(resolved)
    return out


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    try:
        if op == ">":
            return bool(left > right)
        if op == "<":
            return bool(left < right)
        if op == ">=":
            return bool(left >= right)
        return bool(left <= right)
    except TypeError:
        return False


def _coerce(record_value: Any, target: Value) -> Any:
    """The record's value in the filter value's type, or ``None`` when they cannot compare."""
    if record_value is None:
        return None
    if isinstance(target, bool):
        return record_value if isinstance(record_value, bool) else None
    if isinstance(target, int | float):
        if isinstance(record_value, bool):
            return None
        if isinstance(record_value, int | float):
            return record_value
        try:
            return float(record_value)
        except (TypeError, ValueError):
            return None
    if isinstance(target, datetime):
        return parse_datetime(record_value) if isinstance(record_value, str) else None
    return record_value if isinstance(record_value, str) else str(record_value)


def matches(record: Record, flt: Filter) -> bool:
    """Whether one record satisfies one filter (a missing or null field never matches)."""
    value = _coerce(record.get(flt.field), flt.value)
    if value is None:
        return False
    if flt.whole_day and isinstance(flt.value, datetime):
        day, next_day = flt.value, flt.value + timedelta(days=1)
        if flt.op == "=":
            return bool(day <= value < next_day)
        if flt.op == ">":
            return bool(value >= next_day)
        if flt.op == "<=":
            return bool(value < next_day)
    return _compare(flt.op, value, flt.value)


def apply(records: Iterable[Record], filters: Sequence[Filter]) -> list[Record]:
    """Records matching every field's conditions (``=`` values of a field OR'ed), OpenF1-sorted."""
    equals: dict[str, list[Filter]] = {}
    others: list[Filter] = []
    for flt in filters:
        if flt.op == "=":
            equals.setdefault(flt.field, []).append(flt)
        else:
            others.append(flt)
    selected = [
        rec
        for rec in records
        if all(any(matches(rec, f) for f in alts) for alts in equals.values())
        and all(matches(rec, f) for f in others)
    ]
    return sort_records(selected)


def sort_records(records: list[Record]) -> list[Record]:
    """Sort like OpenF1: by the sort keys present and non-null in every record (stable)."""
    if len(records) <= 1:
        return records
    keys = [k for k in _SORT_KEYS if all(r.get(k) is not None for r in records)]
    if not keys:
        return records
    try:
        return sorted(records, key=lambda r: tuple(r[k] for k in keys))
    except TypeError:  # mixed value types under one key: keep the recorded order
        return records


def to_csv(records: Sequence[Record]) -> str:
    """CSV with a header of every field name, sorted, as OpenF1 writes it (``\\r\\n`` lines)."""
    names = sorted(set().union(*records)) if records else []
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names)
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()
