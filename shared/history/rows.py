"""Typed rows of the Ergast-schema history tables and their parsers from CSV text.

The tables are Jolpica's (formerly Ergast's) database dump as CSV: ``\\N`` (or an empty cell) is
null, ids are integers shared across tables (``raceId``, ``driverId``, ``constructorId``,
``circuitId``, ``statusId``). Lap numbers count from 1; durations are milliseconds; race dates are
the race day, start times UTC. ``safety_cars`` and ``red_flags`` come from another source and name
their race as ``"<year> <name>"`` (``"2018 Azerbaijan Grand Prix"``); the loader maps that to
``race_id``.

Each ``parse_*`` takes one CSV row as a mapping of column name to text (``csv.DictReader``, or a
Firestore document of the same table) and raises ``ValueError`` on a malformed row; the loader
skips and counts those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

Row = Mapping[str, object]

NULLS = frozenset({"", "\\N", "NA", "None"})


def text(row: Row, key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    value = str(value).strip()
    return None if value in NULLS else value


def req(row: Row, key: str) -> str:
    value = text(row, key)
    if value is None:
        raise ValueError(f"{key} is missing")
    return value


def opt_int(row: Row, key: str) -> int | None:
    value = text(row, key)
    return None if value is None else int(float(value))


def req_int(row: Row, key: str) -> int:
    return int(float(req(row, key)))


def opt_float(row: Row, key: str) -> float | None:
    value = text(row, key)
    return None if value is None else float(value)


def lap_time_ms(value: str | None) -> int | None:
    """``"1:26.572"`` or ``"86.572"`` -> 86572 ms; None when absent or unreadable."""
    if value is None:
        return None
    try:
        minutes, _, seconds = value.rpartition(":")
        return round((int(minutes or 0) * 60 + float(seconds)) * 1000)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Race:
    """One championship race (a Grand Prix; sprints are in ``sprint_results`` under the same id)."""

    race_id: int
    year: int
    round: int
    circuit_id: int
    name: str  # "Azerbaijan Grand Prix"
    date: dt.date  # race day
    start_utc: dt.datetime | None  # None before the source recorded start times
    quali_date: dt.date | None
    sprint_date: dt.date | None  # None: no sprint that weekend

    @property
    def label(self) -> str:
        """``"<year> <name>"``, the key the safety car and red flag tables use."""
        return f"{self.year} {self.name}"


def parse_race(row: Row) -> Race:
    day = dt.date.fromisoformat(req(row, "date"))
    start = text(row, "time")
    quali, sprint = text(row, "quali_date"), text(row, "sprint_date")
    return Race(
        race_id=req_int(row, "raceId"),
        year=req_int(row, "year"),
        round=req_int(row, "round"),
        circuit_id=req_int(row, "circuitId"),
        name=req(row, "name"),
        date=day,
        start_utc=dt.datetime.combine(day, dt.time.fromisoformat(start), dt.UTC) if start else None,
        quali_date=dt.date.fromisoformat(quali) if quali else None,
        sprint_date=dt.date.fromisoformat(sprint) if sprint else None,
    )


@dataclass(frozen=True, slots=True)
class Result:
    """One car's classification in a race (``results``) or a sprint (``sprint_results``).

    ``grid`` is the starting slot; 0 means no slot (pit lane start, or a car that did not start).
    ``position`` is None for an unclassified car (retired, disqualified: see ``position_text``,
    ``R``, ``D``, ``W``, ``N``, ``E``, ``F``); ``position_order`` ranks every entrant, 1 first.
    """

    result_id: int
    race_id: int
    driver_id: int
    constructor_id: int
    number: int | None
    grid: int
    position: int | None
    position_text: str
    position_order: int
    points: float
    laps: int
    milliseconds: int | None  # race time of a classified finisher on the leader's lap
    fastest_lap: int | None
    status_id: int


def parse_result(row: Row) -> Result:
    return Result(
        result_id=req_int(row, "resultId"),
        race_id=req_int(row, "raceId"),
        driver_id=req_int(row, "driverId"),
        constructor_id=req_int(row, "constructorId"),
        number=opt_int(row, "number"),
        grid=opt_int(row, "grid") or 0,
        position=opt_int(row, "position"),
        position_text=text(row, "positionText") or "",
        position_order=req_int(row, "positionOrder"),
        points=opt_float(row, "points") or 0.0,
        laps=opt_int(row, "laps") or 0,
        milliseconds=opt_int(row, "milliseconds"),
        fastest_lap=opt_int(row, "fastestLap"),
        status_id=req_int(row, "statusId"),
    )


@dataclass(frozen=True, slots=True)
class QualifyingRow:
    """One driver's qualifying result; a segment time is None when the driver did not set one."""

    race_id: int
    driver_id: int
    constructor_id: int
    number: int | None
    position: int
    q1_ms: int | None
    q2_ms: int | None
    q3_ms: int | None

    @property
    def best_ms(self) -> int | None:
        times = [t for t in (self.q1_ms, self.q2_ms, self.q3_ms) if t is not None]
        return min(times) if times else None


def parse_qualifying(row: Row) -> QualifyingRow:
    return QualifyingRow(
        race_id=req_int(row, "raceId"),
        driver_id=req_int(row, "driverId"),
        constructor_id=req_int(row, "constructorId"),
        number=opt_int(row, "number"),
        position=req_int(row, "position"),
        q1_ms=lap_time_ms(text(row, "q1")),
        q2_ms=lap_time_ms(text(row, "q2")),
        q3_ms=lap_time_ms(text(row, "q3")),
    )


@dataclass(frozen=True, slots=True)
class PitStop:
    """One pit stop (recorded from 2011): ``lap`` is the lap the car came in on."""

    race_id: int
    driver_id: int
    stop: int
    lap: int
    local_time: str | None  # time of day at the circuit, "HH:MM:SS"
    duration_ms: int | None  # pit lane time, entry to exit (long under a red flag)


def parse_pit_stop(row: Row) -> PitStop:
    return PitStop(
        race_id=req_int(row, "raceId"),
        driver_id=req_int(row, "driverId"),
        stop=req_int(row, "stop"),
        lap=req_int(row, "lap"),
        local_time=text(row, "time"),
        duration_ms=opt_int(row, "milliseconds"),
    )


@dataclass(frozen=True, slots=True)
class Driver:
    driver_id: int
    driver_ref: str  # "hamilton"
    number: int | None  # permanent number (from 2014)
    code: str | None  # "HAM"
    forename: str
    surname: str
    dob: dt.date | None
    nationality: str | None

    @property
    def full_name(self) -> str:
        return f"{self.forename} {self.surname}"


def parse_driver(row: Row) -> Driver:
    dob = text(row, "dob")
    return Driver(
        driver_id=req_int(row, "driverId"),
        driver_ref=req(row, "driverRef"),
        number=opt_int(row, "number"),
        code=text(row, "code"),
        forename=text(row, "forename") or "",
        surname=req(row, "surname"),
        dob=dt.date.fromisoformat(dob) if dob else None,
        nationality=text(row, "nationality"),
    )


@dataclass(frozen=True, slots=True)
class Constructor:
    constructor_id: int
    constructor_ref: str  # "red_bull"
    name: str
    nationality: str | None


def parse_constructor(row: Row) -> Constructor:
    return Constructor(
        constructor_id=req_int(row, "constructorId"),
        constructor_ref=req(row, "constructorRef"),
        name=req(row, "name"),
        nationality=text(row, "nationality"),
    )


@dataclass(frozen=True, slots=True)
class Circuit:
    circuit_id: int
    circuit_ref: str  # "baku"
    name: str  # "Baku City Circuit"
    location: str | None  # town or city
    country: str | None
    lat: float | None  # degrees, WGS 84
    lng: float | None
    alt: int | None  # metres above sea level


def parse_circuit(row: Row) -> Circuit:
    return Circuit(
        circuit_id=req_int(row, "circuitId"),
        circuit_ref=req(row, "circuitRef"),
        name=req(row, "name"),
        location=text(row, "location"),
        country=text(row, "country"),
        lat=opt_float(row, "lat"),
        lng=opt_float(row, "lng"),
        alt=opt_int(row, "alt"),
    )


@dataclass(frozen=True, slots=True)
class Status:
    """A finishing status: ``Finished``, ``+1 Lap`` (classified, lapped), ``Engine``, ``Accident``..."""

    status_id: int
    status: str

    @property
    def finished(self) -> bool:
        """Took the chequered flag (on the leader's lap or lapped)."""
        return self.status == "Finished" or self.status.startswith("+")


def parse_status(row: Row) -> Status:
    return Status(status_id=req_int(row, "statusId"), status=req(row, "status"))


@dataclass(frozen=True, slots=True)
class SafetyCar:
    """A (full) safety car period: deployed on lap ``deployed_lap``, in on ``retreated_lap``.

    ``retreated_lap`` is None when the race ended behind the safety car.
    """

    race_id: int
    cause: str | None
    deployed_lap: int
    retreated_lap: int | None
    full_laps: int  # laps run entirely behind the safety car


def parse_safety_car(row: Row, race_id: int) -> SafetyCar:
    return SafetyCar(
        race_id=race_id,
        cause=text(row, "Cause"),
        deployed_lap=req_int(row, "Deployed"),
        retreated_lap=opt_int(row, "Retreated"),
        full_laps=opt_int(row, "FullLaps") or 0,
    )


@dataclass(frozen=True, slots=True)
class RedFlag:
    """A red flag on lap ``lap``; ``resumed`` is the source's code (Wikipedia's list of red-flagged
    races), as the rows read: ``N`` not resumed, ``Y`` restarted anew (older races), ``R`` resumed
    with a standing restart, ``S`` resumed behind the safety car."""

    race_id: int
    lap: int
    resumed: str | None
    incident: str | None
    excluded: str | None  # drivers excluded from the restart


def parse_red_flag(row: Row, race_id: int) -> RedFlag:
    return RedFlag(
        race_id=race_id,
        lap=req_int(row, "Lap"),
        resumed=text(row, "Resumed"),
        incident=text(row, "Incident"),
        excluded=text(row, "Excluded"),
    )
