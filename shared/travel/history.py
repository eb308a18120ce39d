"""A circuit's history for viewers (pure logic over the Ergast-schema tables and what Pitlane
imported).

From the history tables (:class:`shared.history.tables.HistoryTables`, races to the end of 2023):
each past winner with their grid slot, how often pole won, the winners' number of stops (pit-stop
records exist from 2011), race durations (the winner's time), safety car deployments (recorded
from 1993, when the safety car became permanent; a race of those years with none had none) and
red flags (recorded for every season).

From sessions Pitlane stored (live, replayed or imported): the winner's tyre compounds stint by
stint (``strategies``: year -> compounds), session lengths (``session_minutes``: code -> minutes of
each past session) and overtakes (``overtakes``: year -> count, only where a source recorded
them). Anything not recorded is ``null``, never zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from shared.history.tables import HistoryTables
from shared.timing.models import Lap

SAFETY_CAR_FROM = 1993
RECENT = 10  # races the typical race duration is taken over


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class PastWinner(_Out):
    year: int
    race: str
    date: date
    driver: str = Field(description="full name")
    driver_code: str | None = None
    constructor: str
    grid: int | None = Field(description="starting slot; null for a pit-lane start")
    laps: int
    race_time_ms: int | None
    pit_stops: int | None = Field(description="null before pit-stop records (2011)")
    compounds: list[str] | None = Field(default=None, description="the winner's stints, from stored laps")
    safety_cars: int | None = Field(description="null before 1993")
    red_flags: int
    overtakes: int | None = Field(default=None, description="only where a source recorded them")


class Share(_Out):
    races: int = Field(description="races the share is over")
    count: int
    share: float | None = Field(description="count / races; null when races is 0")


class StrategyCount(_Out):
    compounds: list[str]
    wins: int


class CircuitHistory(_Out):
    circuit_id: str
    name: str
    races: int
    first_year: int | None
    last_year: int | None
    pole_wins: Share = Field(description="races won from pole (grid 1)")
    winners_by_grid: dict[str, int] = Field(description="grid slot -> wins from it")
    winning_stops: dict[str, int] = Field(description="number of stops -> wins, races with records")
    winning_strategies: list[StrategyCount] = Field(description="compound sequences of stored winners")
    typical_race_minutes: float | None = Field(description=f"median winner's time, last {RECENT} races")
    typical_session_minutes: dict[str, float] = Field(description="session code -> median length")
    safety_car_races: Share
    red_flag_races: Share
    overtakes_per_race: float | None = Field(description="mean over races with a record")
    overtakes_recorded_races: int
    winners: list[PastWinner] = Field(description="newest first")


def _share(count: int, races: int) -> Share:
    return Share(races=races, count=count, share=round(count / races, 3) if races else None)


def circuit_history(
    tables: HistoryTables,
    *,
    circuit_id: str,
    history_id: int | None,
    name: str,
    strategies: Mapping[int, Sequence[str]] | None = None,
    session_minutes: Mapping[str, Sequence[float]] | None = None,
    overtakes: Mapping[int, int] | None = None,
) -> CircuitHistory:
    races = tables.at_circuit(history_id) if history_id is not None else []
    pit_years = {tables.race(p.race_id).year for p in tables.pit_stops} if tables.pit_stops else set()
    pit_from = min(pit_years) if pit_years else None
    strategies, overtakes = strategies or {}, overtakes or {}
    winners: list[PastWinner] = []
    for race in races:
        results = tables.results_of(race.race_id)
        win = next((r for r in results if r.position == 1), None)
        if win is None:
            continue
        driver = tables.drivers.get(win.driver_id)
        team = tables.constructors.get(win.constructor_id)
        stops = None
        if pit_from is not None and race.year >= pit_from:
            stops = sum(1 for p in tables.pit_stops_of(race.race_id) if p.driver_id == win.driver_id)
        winners.append(
            PastWinner(
                year=race.year,
                race=race.name,
                date=race.date,
                driver=f"{driver.forename} {driver.surname}" if driver else "unknown",
                driver_code=driver.code if driver else None,
                constructor=team.name if team else "unknown",
                grid=win.grid or None,
                laps=win.laps,
                race_time_ms=win.milliseconds,
                pit_stops=stops,
                compounds=list(strategies[race.year]) if race.year in strategies else None,
                safety_cars=len(tables.safety_cars_of(race.race_id))
                if race.year >= SAFETY_CAR_FROM
                else None,
                red_flags=len(tables.red_flags_of(race.race_id)),
                overtakes=overtakes.get(race.year),
            )
        )
    with_grid = [w for w in winners if w.grid is not None]
    sc_known = [w for w in winners if w.safety_cars is not None]
    timed = [w.race_time_ms for w in winners if w.race_time_ms][-RECENT:]
    counted = [w.overtakes for w in winners if w.overtakes is not None]
    sequences = Counter(tuple(w.compounds) for w in winners if w.compounds)
    return CircuitHistory(
        circuit_id=circuit_id,
        name=name,
        races=len(winners),
        first_year=winners[0].year if winners else None,
        last_year=winners[-1].year if winners else None,
        pole_wins=_share(sum(1 for w in with_grid if w.grid == 1), len(with_grid)),
        winners_by_grid={str(k): v for k, v in sorted(Counter(w.grid for w in with_grid).items())},
        winning_stops={
            str(k): v
            for k, v in sorted(Counter(w.pit_stops for w in winners if w.pit_stops is not None).items())
        },
        winning_strategies=[StrategyCount(compounds=list(k), wins=v) for k, v in sequences.most_common()],
        typical_race_minutes=round(median(timed) / 60_000, 1) if timed else None,
        typical_session_minutes={
            code: round(median(values), 1)
            for code, values in sorted((session_minutes or {}).items())
            if values
        },
        safety_car_races=_share(sum(1 for w in sc_known if w.safety_cars), len(sc_known)),
        red_flag_races=_share(sum(1 for w in winners if w.red_flags), len(winners)),
        overtakes_per_race=round(sum(counted) / len(counted), 1) if counted else None,
        overtakes_recorded_races=len(counted),
        winners=list(reversed(winners)),
    )


def stint_compounds(laps: Sequence[Lap]) -> list[str]:
    """One driver's compounds stint by stint, from their laps in lap order. A new stint starts when
    the stint number changes (or, without one, the compound); laps with no compound are skipped."""
    out: list[str] = []
    current: object = None
    for lap in sorted(laps, key=lambda x: x.lap_number):
        if not lap.compound:
            continue
        key = lap.stint if lap.stint is not None else lap.compound
        if key != current:
            out.append(lap.compound)
            current = key
    return out
