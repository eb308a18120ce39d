"""Timing-tower rows from the merged ``TimingData``, ``DriverList`` and stint state of a driver.

``TimingData`` lines differ by session: races send ``GapToLeader`` and
``IntervalToPositionAhead.Value``; practice and qualifying send ``TimeDiffToFastest`` and
``TimeDiffToPositionAhead``. Both are kept as displayed (``"+1.234"``, ``"1L"``, ``"LAP 12"``).
Rows are plain dicts (the fields of :class:`DriverRow`) so that comparing, storing and
checkpointing them costs no model validation per message.
"""

from __future__ import annotations

from typing import Any

from shared.timing.models import DriverRow, TimingTower
from shared.timing.stints import DriverStints
from shared.timing.values import as_bool, as_int, as_text, entries, time_ms


def _value(item: Any) -> Any:
    return item.get("Value") if isinstance(item, dict) else item


def driver_row(
    driver: str, timing: dict[str, Any] | None, info: dict[str, Any] | None, stints: DriverStints | None
) -> dict[str, Any]:
    """The :class:`DriverRow` fields of one driver (``timing``: merged ``TimingData.Lines[driver]``;
    ``info``: ``DriverList[driver]``)."""
    t = timing or {}
    i = info or {}
    fields = {name: read(t) for name, read in _FIELDS.values()}
    stint = stints.current() if stints is not None else None
    return {
        "driver_number": driver,
        "abbreviation": as_text(i.get("Tla")),
        "full_name": as_text(i.get("FullName")),
        "team_name": as_text(i.get("TeamName")),
        "team_colour": as_text(i.get("TeamColour")),
        **fields,
        "compound": stint.compound if stint else None,
        "tyre_age_laps": stint.total_laps if stint else None,
    }


def _sectors(t: dict[str, Any]) -> list[int | None]:
    sectors: list[int | None] = [None, None, None]
    for idx, sector in entries(t.get("Sectors")):
        if idx < 3:
            sectors[idx] = time_ms(_value(sector))
    return sectors


# TimingData key -> (DriverRow field, how to read it from the merged line)
_FIELDS: dict[str, tuple[str, Any]] = {
    "Position": ("position", lambda t: as_int(t.get("Position"))),
    "GapToLeader": (
        "gap_to_leader",
        lambda t: as_text(t.get("GapToLeader")) or as_text(t.get("TimeDiffToFastest")),
    ),
    "IntervalToPositionAhead": (
        "interval",
        lambda t: (
            as_text(_value(t.get("IntervalToPositionAhead"))) or as_text(t.get("TimeDiffToPositionAhead"))
        ),
    ),
    "LastLapTime": ("last_lap_ms", lambda t: time_ms(_value(t.get("LastLapTime")))),
    "BestLapTime": ("best_lap_ms", lambda t: time_ms(_value(t.get("BestLapTime")))),
    "Sectors": ("sectors_ms", _sectors),
    "NumberOfLaps": ("laps", lambda t: as_int(t.get("NumberOfLaps")) or 0),
    "InPit": ("in_pit", lambda t: bool(as_bool(t.get("InPit")))),
    "PitOut": ("pit_out", lambda t: bool(as_bool(t.get("PitOut")))),
    "NumberOfPitStops": ("pit_stops", lambda t: as_int(t.get("NumberOfPitStops")) or 0),
    "Retired": ("retired", lambda t: bool(as_bool(t.get("Retired")))),
    "Stopped": ("stopped", lambda t: bool(as_bool(t.get("Stopped")))),
}
_FIELDS["TimeDiffToFastest"] = _FIELDS["GapToLeader"]
_FIELDS["TimeDiffToPositionAhead"] = _FIELDS["IntervalToPositionAhead"]


def patch_timing(row: dict[str, Any], delta: dict[str, Any], timing: dict[str, Any]) -> bool:
    """Update ``row`` in place from the fields a ``TimingData`` delta touched (``timing`` is the
    merged line); True if the row changed. Cheaper than :func:`driver_row` on every delta."""
    changed = False
    for key in delta:
        spec = _FIELDS.get(key)
        if spec is not None:
            name, read = spec
            value = read(timing)
            if row.get(name) != value:
                row[name] = value
                changed = True
    return changed


def _order(row: dict[str, Any]) -> tuple[int, int, str]:
    position = row.get("position")
    number = as_int(row["driver_number"])
    return (position if position is not None else 999, number if number is not None else 999, "")


def build_tower(rows: dict[str, dict[str, Any]], **session: Any) -> TimingTower:
    """The tower: rows ordered by position (drivers with no position last, by number)."""
    ordered = sorted(rows.values(), key=_order)
    return TimingTower(rows=[DriverRow(**row) for row in ordered], **session)
