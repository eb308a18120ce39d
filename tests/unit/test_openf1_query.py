"""OpenF1 query semantics (infra.upstream.openf1) on small hand-made records."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.upstream import openf1
from infra.upstream.openf1 import Filter, QueryError, apply, parse_query

LAPS = [
    {"session_key": 1, "driver_number": 1, "lap_number": n, "date_start": f"2024-09-22T12:{n:02d}:00+00:00"}
    for n in range(1, 6)
] + [
    {"session_key": 1, "driver_number": 16, "lap_number": n, "date_start": f"2024-09-22T12:{n:02d}:30+00:00"}
    for n in range(1, 4)
]


def _keys(records: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(r["driver_number"], r["lap_number"]) for r in records]


def test_parse_operators_from_raw_query() -> None:
    filters = parse_query("a=1&b>2&c<3&d>=4&e<=5")
    assert [(f.field, f.op, f.value) for f in filters] == [
        ("a", "=", 1),
        ("b", ">", 2),
        ("c", "<", 3),
        ("d", ">=", 4),
        ("e", "<=", 5),
    ]


def test_parse_casts_values_like_openf1() -> None:
    values = {
        f.field: f.value for f in parse_query("x=true&y=1.5&z=VER&gmt_offset=08:00:00&team_colour=3671C6")
    }
    assert values == {"x": True, "y": 1.5, "z": "VER", "gmt_offset": "08:00:00", "team_colour": "3671C6"}
    (when,) = parse_query("date_start>=2024-09-22T20:00:00%2B08:00")
    assert when.value == datetime(2024, 9, 22, 12, 0, tzinfo=UTC)
    assert not when.whole_day


def test_parse_restores_plus_of_an_offset_decoded_as_space() -> None:
    (when,) = parse_query("date_start<2024-09-22T20:00:00+08:00")
    assert when.value == datetime(2024, 9, 22, 12, 0, tzinfo=UTC)


def test_naive_dates_are_utc_and_date_only_is_whole_day() -> None:
    (naive,) = parse_query("date=2024-09-22T12:00:00")
    assert naive.value == datetime(2024, 9, 22, 12, 0, tzinfo=UTC)
    (day,) = parse_query("date=2024-09-22")
    assert day.whole_day and day.value == datetime(2024, 9, 22, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["session_key", "=5", "lap_number"])
def test_parse_rejects_parts_without_field_or_operator(raw: str) -> None:
    with pytest.raises(QueryError):
        parse_query(raw)


def test_apply_ands_fields_and_compares_numbers_as_numbers() -> None:
    got = apply(LAPS, parse_query("driver_number=1&lap_number>=3"))
    assert _keys(got) == [(1, 3), (1, 4), (1, 5)]
    # "10" as a string would sort before "3"; as a number it selects nothing.
    assert apply(LAPS, parse_query("lap_number>=10")) == []
    assert _keys(apply(LAPS, parse_query("driver_number=16&lap_number<2"))) == [(16, 1)]


def test_apply_ors_several_values_of_one_field() -> None:
    got = apply(LAPS, parse_query("driver_number=1&driver_number=16&lap_number=2"))
    assert sorted(_keys(got)) == [(1, 2), (16, 2)]


def test_apply_date_range() -> None:
    got = apply(LAPS, parse_query("date_start>2024-09-22T12:02:00Z&date_start<=2024-09-22T12:03:30"))
    assert sorted(_keys(got)) == [(1, 3), (16, 2), (16, 3)]


def test_date_only_values_cover_the_whole_utc_day() -> None:
    records = [
        {"driver_number": 1, "lap_number": 1, "date_start": "2024-09-21T23:59:59+00:00"},
        {"driver_number": 1, "lap_number": 2, "date_start": "2024-09-22T00:00:00+00:00"},
        {"driver_number": 1, "lap_number": 3, "date_start": "2024-09-22T23:00:00+00:00"},
        {"driver_number": 1, "lap_number": 4, "date_start": "2024-09-23T01:00:00+00:00"},
    ]
    assert [r["lap_number"] for r in apply(records, parse_query("date_start=2024-09-22"))] == [2, 3]
    assert [r["lap_number"] for r in apply(records, parse_query("date_start>2024-09-22"))] == [4]
    assert [r["lap_number"] for r in apply(records, parse_query("date_start<=2024-09-22"))] == [1, 2, 3]
    assert [r["lap_number"] for r in apply(records, parse_query("date_start<2024-09-22"))] == [1]
    assert [r["lap_number"] for r in apply(records, parse_query("date_start>=2024-09-22"))] == [2, 3, 4]


def test_missing_or_null_fields_never_match() -> None:
    records: list[dict[str, Any]] = [
        {"driver_number": 1, "lap_duration": None},
        {"driver_number": 2},
        {"driver_number": 3, "lap_duration": 90.5},
    ]
    got = apply(records, parse_query("lap_duration<100"))
    assert [r["driver_number"] for r in got] == [3]


def test_results_sorted_like_openf1() -> None:
    shuffled = list(reversed(LAPS))
    got = apply(shuffled, [])
    starts = [r["date_start"] for r in got]
    assert starts == sorted(starts) and len(got) == len(LAPS)


def test_pop_csv() -> None:
    wants, rest = openf1.pop_csv(parse_query("csv=true&driver_number=1"))
    assert wants is True and [f.field for f in rest] == ["driver_number"]
    assert openf1.pop_csv(parse_query("csv=false"))[0] is False
    with pytest.raises(QueryError):
        openf1.pop_csv(parse_query("csv=yes"))


def test_to_csv_has_sorted_header_and_one_row_per_record() -> None:
    text = openf1.to_csv(LAPS[:2])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == "date_start,driver_number,lap_number,session_key"
    assert [row["lap_number"] for row in rows] == ["1", "2"]


def test_resolve_latest_picks_newest_session_and_meeting() -> None:
    sessions = [
        {"session_key": 10, "meeting_key": 100, "date_start": "2024-09-20T09:30:00+00:00"},
        {"session_key": 12, "meeting_key": 100, "date_start": "2024-09-22T12:00:00+00:00"},
        {"session_key": 11, "meeting_key": 100, "date_start": "2024-09-21T13:00:00+00:00"},
    ]
    meetings = [{"meeting_key": 100, "date_start": "2024-09-20T09:30:00+00:00"}]
    resolved = openf1.resolve_latest(
        parse_query("session_key=latest&meeting_key=latest&driver_number=1"),
        sessions=sessions,
        meetings=meetings,
    )
    assert resolved == [
        Filter("session_key", "=", 12),
        Filter("meeting_key", "=", 100),
        Filter("driver_number", "=", 1),
    ]
