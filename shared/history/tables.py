"""The Ergast-schema history as typed, indexed tables.

``HistoryTables.load(path)`` reads the CSV folder (``<data dir>/history``: ``races.csv``,
``results.csv``, ...) with the ``csv`` module, once per folder and file version (cached);
``HistoryTables.from_rows(...)`` builds the same tables from rows already fetched (Firestore
documents of the same columns). Malformed rows are skipped and counted (``skipped``), never fatal;
a missing required table (``races``, ``results``, ``drivers``, ``constructors``, ``circuits``,
``status``) is a ``HistoryDataError``; the others may be absent (empty).

Indices: by id for races, drivers, constructors, circuits and status; per race for results,
qualifying, sprint results, pit stops, safety cars and red flags; races per season and per
circuit, in calendar order.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from shared.errors import PermanentError
from shared.history.rows import (
    Circuit,
    Constructor,
    Driver,
    PitStop,
    QualifyingRow,
    Race,
    RedFlag,
    Result,
    Row,
    SafetyCar,
    Status,
    parse_circuit,
    parse_constructor,
    parse_driver,
    parse_pit_stop,
    parse_qualifying,
    parse_race,
    parse_red_flag,
    parse_result,
    parse_safety_car,
    parse_status,
)

log = logging.getLogger(__name__)

REQUIRED = ("races", "results", "drivers", "constructors", "circuits", "status")
OPTIONAL = ("qualifying", "sprint_results", "pit_stops", "safety_cars", "red_flags")
T = TypeVar("T")


class HistoryDataError(PermanentError):
    """The history tables are missing or unreadable."""


def _parse_all(name: str, rows: Iterable[Row], parse: Callable[[Row], T], skipped: dict[str, int]) -> list[T]:
    out: list[T] = []
    for row in rows:
        try:
            out.append(parse(row))
        except (ValueError, TypeError, KeyError):
            skipped[name] = skipped.get(name, 0) + 1
    return out


def _group(items: Iterable[T], key: Callable[[T], int]) -> dict[int, list[T]]:
    grouped: dict[int, list[T]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return dict(grouped)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (caches key on it)
class HistoryTables:
    """Every table as a list of typed rows plus the indices callers need (read-only by convention)."""

    races: list[Race]
    results: list[Result]
    qualifying: list[QualifyingRow]
    sprint_results: list[Result]
    pit_stops: list[PitStop]
    drivers: dict[int, Driver]
    constructors: dict[int, Constructor]
    circuits: dict[int, Circuit]
    status: dict[int, Status]
    safety_cars: list[SafetyCar]
    red_flags: list[RedFlag]
    skipped: dict[str, int] = field(default_factory=dict)  # table -> malformed rows dropped

    races_by_id: dict[int, Race] = field(init=False, repr=False)
    results_by_race: dict[int, list[Result]] = field(init=False, repr=False)
    qualifying_by_race: dict[int, list[QualifyingRow]] = field(init=False, repr=False)
    sprint_by_race: dict[int, list[Result]] = field(init=False, repr=False)
    pit_stops_by_race: dict[int, list[PitStop]] = field(init=False, repr=False)
    safety_cars_by_race: dict[int, list[SafetyCar]] = field(init=False, repr=False)
    red_flags_by_race: dict[int, list[RedFlag]] = field(init=False, repr=False)
    races_by_season: dict[int, list[Race]] = field(init=False, repr=False)
    races_by_circuit: dict[int, list[Race]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ordered = sorted(self.races, key=lambda r: (r.date, r.round))
        object.__setattr__(self, "races", ordered)

        def by_race(items: Iterable[T], order: Callable[[T], object]) -> dict[int, list[T]]:
            return _sorted(_group(items, lambda item: item.race_id), order)  # type: ignore[attr-defined]

        index = {
            "races_by_id": {r.race_id: r for r in ordered},
            "results_by_race": by_race(self.results, lambda r: r.position_order),
            "qualifying_by_race": by_race(self.qualifying, lambda q: q.position),
            "sprint_by_race": by_race(self.sprint_results, lambda r: r.position_order),
            "pit_stops_by_race": by_race(self.pit_stops, lambda p: (p.lap, p.stop)),
            "safety_cars_by_race": by_race(self.safety_cars, lambda s: s.deployed_lap),
            "red_flags_by_race": by_race(self.red_flags, lambda f: f.lap),
            "races_by_season": _group(ordered, lambda r: r.year),
            "races_by_circuit": _group(ordered, lambda r: r.circuit_id),
        }
        for name, value in index.items():
            object.__setattr__(self, name, value)

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> HistoryTables:
        """The tables in the CSV folder ``path``, cached per folder and file modification times."""
        folder = Path(path).resolve()
        if not (folder / "races.csv").is_file():
            raise HistoryDataError(f"no history tables in {folder} (races.csv missing)")
        stamp = tuple(
            (name, (folder / f"{name}.csv").stat().st_mtime_ns if (folder / f"{name}.csv").is_file() else 0)
            for name in REQUIRED + OPTIONAL
        )
        return _load_cached(str(folder), stamp)

    @classmethod
    def from_rows(cls, tables: Mapping[str, Iterable[Row]]) -> HistoryTables:
        """Build from rows keyed by table name (``"races"``, ``"results"``, ...), columns as in the
        CSV files; cells may be text or already-typed values (Firestore documents)."""
        missing = [name for name in REQUIRED if name not in tables]
        if missing:
            raise HistoryDataError(f"history tables missing: {', '.join(missing)}")
        skipped: dict[str, int] = {}
        races = _parse_all("races", tables["races"], parse_race, skipped)
        by_label = {race.label: race.race_id for race in races}

        def labelled(parse: Callable[[Row, int], T]) -> Callable[[Row], T]:
            def inner(row: Row) -> T:
                return parse(row, by_label[str(row.get("Race", "")).strip()])

            return inner

        def table(name: str) -> Iterable[Row]:
            return tables.get(name, ())

        built = cls(
            races=races,
            results=_parse_all("results", table("results"), parse_result, skipped),
            qualifying=_parse_all("qualifying", table("qualifying"), parse_qualifying, skipped),
            sprint_results=_parse_all("sprint_results", table("sprint_results"), parse_result, skipped),
            pit_stops=_parse_all("pit_stops", table("pit_stops"), parse_pit_stop, skipped),
            drivers={d.driver_id: d for d in _parse_all("drivers", table("drivers"), parse_driver, skipped)},
            constructors={
                c.constructor_id: c
                for c in _parse_all("constructors", table("constructors"), parse_constructor, skipped)
            },
            circuits={
                c.circuit_id: c for c in _parse_all("circuits", table("circuits"), parse_circuit, skipped)
            },
            status={s.status_id: s for s in _parse_all("status", table("status"), parse_status, skipped)},
            safety_cars=_parse_all("safety_cars", table("safety_cars"), labelled(parse_safety_car), skipped),
            red_flags=_parse_all("red_flags", table("red_flags"), labelled(parse_red_flag), skipped),
            skipped=skipped,
        )
        if skipped:
            log.warning("history rows skipped", extra={"json_fields": {"skipped": skipped}})
        return built

    # -- lookups --------------------------------------------------------------------------------

    def race(self, race_id: int) -> Race:
        """The race ``race_id``; ``KeyError`` when unknown."""
        return self.races_by_id[race_id]

    def find_race(self, year: int, round_: int) -> Race | None:
        return next((r for r in self.races_by_season.get(year, ()) if r.round == round_), None)

    def season(self, year: int) -> list[Race]:
        """The races of ``year`` in calendar order."""
        return list(self.races_by_season.get(year, ()))

    def at_circuit(self, circuit_id: int) -> list[Race]:
        """Every race held at ``circuit_id``, oldest first."""
        return list(self.races_by_circuit.get(circuit_id, ()))

    def results_of(self, race_id: int) -> list[Result]:
        """The race's classification, ``position_order`` 1 first (empty when unknown)."""
        return list(self.results_by_race.get(race_id, ()))

    def qualifying_of(self, race_id: int) -> list[QualifyingRow]:
        return list(self.qualifying_by_race.get(race_id, ()))

    def sprint_of(self, race_id: int) -> list[Result]:
        return list(self.sprint_by_race.get(race_id, ()))

    def pit_stops_of(self, race_id: int) -> list[PitStop]:
        return list(self.pit_stops_by_race.get(race_id, ()))

    def safety_cars_of(self, race_id: int) -> list[SafetyCar]:
        return list(self.safety_cars_by_race.get(race_id, ()))

    def red_flags_of(self, race_id: int) -> list[RedFlag]:
        return list(self.red_flags_by_race.get(race_id, ()))

    def circuit_by_ref(self, circuit_ref: str) -> Circuit | None:
        return next((c for c in self.circuits.values() if c.circuit_ref == circuit_ref), None)

    def status_text(self, status_id: int) -> str:
        found = self.status.get(status_id)
        return found.status if found else "Unknown"

    def finished(self, result: Result) -> bool:
        """The car took the chequered flag (its status is ``Finished`` or ``+N Laps``)."""
        found = self.status.get(result.status_id)
        return bool(found and found.finished)


def _sorted(grouped: dict[int, list[T]], key: Callable[[T], object]) -> dict[int, list[T]]:
    for items in grouped.values():
        items.sort(key=key)  # type: ignore[arg-type]
    return grouped


@lru_cache(maxsize=4)
def _load_cached(folder: str, stamp: tuple[tuple[str, int], ...]) -> HistoryTables:
    del stamp  # part of the cache key only: a rewritten file is read again
    root = Path(folder)
    tables: dict[str, list[dict[str, str]]] = {}
    for name in REQUIRED + OPTIONAL:
        path = root / f"{name}.csv"
        if not path.is_file():
            if name in REQUIRED:
                raise HistoryDataError(f"history table {path} is missing")
            continue
        # utf-8-sig: some exports start with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            tables[name] = list(csv.DictReader(handle))
    return HistoryTables.from_rows(tables)


def load_history(data_dir: str | Path) -> HistoryTables:
    """The tables under ``<data_dir>/history`` (``settings.require_data_dir``), or ``data_dir``
    itself when it already is the CSV folder."""
    root = Path(data_dir)
    return HistoryTables.load(root if (root / "races.csv").is_file() else root / "history")
