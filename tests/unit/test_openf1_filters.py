"""OpenF1 query building (shared.openf1.query), checked against the server's own parser."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from infra.upstream import openf1 as server
from shared.openf1.query import between, build_query, encode_value, q, single_value


def test_operators_stay_raw() -> None:
    query = build_query(
        q("session_key", "=", 9606), q("lap_number", ">=", 10), q("lap_number", "<", 20), q("x", ">", 1.5)
    )
    assert query == "session_key=9606&lap_number>=10&lap_number<20&x>1.5"
    assert build_query(q("lap_number", "<=", 3)) == "lap_number<=3"


def test_several_values_are_or_parts() -> None:
    assert str(q("driver_number", "=", [1, 4, 16])) == "driver_number=1&driver_number=4&driver_number=16"
    with pytest.raises(ValueError, match="only work with '='"):
        q("lap_number", ">=", [1, 2])


def test_values_as_openf1_reads_them() -> None:
    assert encode_value(True) == "true"
    assert encode_value(False) == "false"
    assert encode_value(98.48) == "98.48"
    assert encode_value("Red Bull Racing") == "Red%20Bull%20Racing"
    assert encode_value("08:00:00") == "08:00:00"
    assert encode_value("a&b=c") == "a%26b%3Dc"  # cannot break out of its part


def test_datetimes_are_utc_and_url_safe() -> None:
    aware = datetime(2024, 9, 22, 20, 0, tzinfo=timezone(timedelta(hours=8)))
    assert str(q("date", ">", aware)) == "date>2024-09-22T12:00:00%2B00:00"
    naive = datetime(2024, 9, 22, 12, 0)  # OpenF1 reads a naive time as UTC
    assert str(q("date", ">", naive)) == "date>2024-09-22T12:00:00%2B00:00"
    assert str(q("date_start", "=", date(2024, 9, 22))) == "date_start=2024-09-22"


def test_between_and_csv() -> None:
    start, end = datetime(2024, 9, 22, 12, tzinfo=UTC), datetime(2024, 9, 22, 13, tzinfo=UTC)
    query = build_query(q("session_key", "=", 9606), between("date", start, end), csv=True)
    assert query == (
        "session_key=9606&date>=2024-09-22T12:00:00%2B00:00&date<2024-09-22T13:00:00%2B00:00&csv=true"
    )
    assert build_query(between("lap_number", 1, 5, inclusive_end=True)) == "lap_number>=1&lap_number<=5"
    assert build_query() == ""


def test_round_trip_through_the_server_parser() -> None:
    """What we send is what OpenF1's semantics (the local server's parser) reads back."""
    when = datetime(2024, 9, 22, 12, 30, 15, 250000, tzinfo=UTC)
    query = build_query(
        q("driver_number", "=", [1, 4]),
        q("lap_number", ">=", 10),
        q("date_start", "<", when),
        q("is_pit_out_lap", "=", False),
        q("team_name", "=", "Red Bull Racing"),
        csv=True,
    )
    wants_csv, filters = server.pop_csv(server.parse_query(query))
    assert wants_csv is True
    assert [(f.field, f.op, f.value) for f in filters] == [
        ("driver_number", "=", 1),
        ("driver_number", "=", 4),
        ("lap_number", ">=", 10),
        ("date_start", "<", when),
        ("is_pit_out_lap", "=", False),
        ("team_name", "=", "Red Bull Racing"),
    ]


def test_invalid_filters_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="field name"):
        q("lap number", "=", 1)
    with pytest.raises(ValueError, match="operator"):
        q("lap_number", "!=", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no value"):
        q("lap_number", "=", [])
    with pytest.raises(TypeError):
        q("lap_number", "=", object())  # type: ignore[arg-type]


def test_single_value() -> None:
    filters = (q("session_key", "=", 9606), q("lap_number", ">=", 3))
    assert single_value(filters, "session_key") == 9606
    assert single_value(filters, "lap_number") is None  # not an equality
    assert single_value((q("session_key", "=", [1, 2]),), "session_key") is None
    assert single_value((), "session_key") is None
