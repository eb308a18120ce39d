"""Per-driver pre-race features from the Ergast-schema history, using only races run before.

:class:`FormTracker` walks the races in calendar order: :meth:`FormTracker.features` describes the
entries of the next race (its starting grid) from what the tracker has seen so far, and
:meth:`FormTracker.update` then folds that race's results in. One chronological pass therefore
gives every race's features as they were known the morning of the race, which is what the model
is trained and backtested on.

Features (one row per starter, :data:`FEATURES` in order):

* the grid: slot (1 = pole; a pit-lane start counts as the last slot), its log, and the share of
  races won, podiums and points finishes from that slot so far (smoothed), the qualifying gap to
  pole in percent (from ``qualifying``, 1994 on; imputed when missing, with a flag);
* the driver's form: exponentially weighted (``ALPHA`` per race, about the last seven races) finish
  score (1 for a win, 0 for last), win, podium, points and finish rates, season points as a share
  of the season leader's (the previous season's at round 1), experience;
* the team's form: the same weighted scores for its best car and its points share;
* the circuit: the driver's mean finish score there, the pole-sitter's win rate there (both
  shrunk towards the overall figure), and the field size and points-paying places.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from shared.errors import PermanentError
from shared.history.rows import Race, Result
from shared.history.tables import HistoryTables

ALPHA = 0.25  # weight of the newest race in the exponentially weighted form figures
# Entries that never took the start: not part of a race's field.
NON_STARTERS = frozenset({"Did not qualify", "Did not prequalify", "107% Rule", "Withdrew", "Excluded"})
QUALI_GAP_CAP_PCT = 5.0
ROOKIE = {"score": 0.35, "win": 0.0, "podium": 0.02, "points": 0.15, "finish": 0.7, "gain": 0.0, "grid": 0.35}

FEATURES = (
    "grid", "log_grid", "slot_win", "slot_podium", "slot_points", "quali_gap_pct", "quali_missing",
    "drv_score", "drv_win", "drv_podium", "drv_points", "drv_finish", "drv_season_share", "drv_log_starts",
    "team_score", "team_win", "team_podium", "team_season_share", "drv_gain", "team_gain", "team_grid",
    "sprint_score", "sprint_missing",
    "drv_circuit_score", "circuit_pole_win", "field_size", "points_places",
)  # fmt: skip


class MissingGridError(PermanentError):
    """A race whose starting grid is not known: no prediction is made (never a guessed grid)."""


@dataclass(frozen=True)
class Starter:
    """One car on the grid: ``grid`` 1 = pole; 0 = pit-lane start (placed last)."""

    driver_id: int
    constructor_id: int
    grid: int
    number: int | None = None


@dataclass
class RaceRows:
    """The feature matrix of one race (rows in grid order) and, when known, its outcome."""

    race: Race
    starters: list[Starter]
    x: np.ndarray  # (len(starters), len(FEATURES)) float64
    finish: np.ndarray | None = None  # positionOrder per starter (1 = winner), None before the race
    points: np.ndarray | None = None  # championship points scored per starter

    @property
    def won(self) -> np.ndarray:
        assert self.finish is not None
        return (self.finish == 1).astype(float)

    @property
    def podium(self) -> np.ndarray:
        assert self.finish is not None
        return (self.finish <= 3).astype(float)

    @property
    def scored(self) -> np.ndarray:
        assert self.points is not None
        return (self.points > 0).astype(float)


def points_places(year: int) -> int:
    """Points-paying finishing places of the championship that season."""
    if year >= 2010:
        return 10
    if year >= 2003:
        return 8
    return 6 if year >= 1960 else 5


def _ewm(old: float | None, new: float) -> float:
    return new if old is None else old + ALPHA * (new - old)


@dataclass
class _Form:
    score: float | None = None
    win: float | None = None
    podium: float | None = None
    points: float | None = None
    finish: float | None = None
    gain: float | None = None  # finish score minus grid score: places made up on race day
    grid: float | None = None  # grid score (1 pole, 0 last): qualifying pace
    starts: int = 0

    def add(
        self, score: float, win: float, podium: float, points: float, *, finish: float, grid: float
    ) -> None:
        self.score, self.win = _ewm(self.score, score), _ewm(self.win, win)
        self.podium, self.points = _ewm(self.podium, podium), _ewm(self.points, points)
        self.finish = _ewm(self.finish, finish)
        self.gain, self.grid = _ewm(self.gain, score - grid), _ewm(self.grid, grid)
        self.starts += 1

    def get(self, name: str) -> float:
        value = getattr(self, name)
        return ROOKIE[name] if value is None else float(value)


@dataclass
class _Rate:
    hits: float = 0.0
    n: float = 0.0

    def smoothed(self, prior: float, k: float) -> float:
        return (self.hits + prior * k) / (self.n + k)


@dataclass
class FormTracker:
    """Form of every driver, team, grid slot and circuit after the races folded in so far."""

    tables: HistoryTables
    drivers: dict[int, _Form] = field(default_factory=lambda: defaultdict(_Form))
    teams: dict[int, _Form] = field(default_factory=lambda: defaultdict(_Form))
    slots: dict[int, list[_Rate]] = field(
        default_factory=lambda: defaultdict(lambda: [_Rate(), _Rate(), _Rate()])
    )
    circuit_pole: dict[int, _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    pole_all: _Rate = field(default_factory=_Rate)
    driver_circuit: dict[tuple[int, int], _Rate] = field(default_factory=lambda: defaultdict(_Rate))
    season_points: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    team_points: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    seen: set[int] = field(default_factory=set)

    @classmethod
    def before(cls, tables: HistoryTables, day: date) -> FormTracker:
        """A tracker that has folded in every race run before ``day``."""
        tracker = cls(tables)
        for race in tables.races:
            if race.date >= day:
                break
            tracker.update(race)
        return tracker

    # -- the grid ---------------------------------------------------------------------------

    def starters(self, race_id: int) -> list[Starter]:
        """The race's starters from ``results.grid`` (or the qualifying order when no grid was
        recorded), in grid order; :class:`MissingGridError` when neither is known."""
        results = [r for r in self.tables.results_of(race_id) if not self._non_starter(r)]
        if results and any(r.grid > 0 for r in results):
            starters = [Starter(r.driver_id, r.constructor_id, r.grid, r.number) for r in results]
        else:
            quali = self.tables.qualifying_of(race_id)
            if not quali:
                race = self.tables.races_by_id.get(race_id)
                raise MissingGridError(f"no starting grid for {race.label if race else race_id}")
            starters = [Starter(q.driver_id, q.constructor_id, q.position, q.number) for q in quali]
        return sorted(starters, key=lambda s: (s.grid <= 0, s.grid))

    def _non_starter(self, result: Result) -> bool:
        return result.grid <= 0 and self.tables.status_text(result.status_id) in NON_STARTERS

    # -- features ---------------------------------------------------------------------------

    def features(
        self, race: Race, starters: list[Starter], quali_ms: dict[int, int | None] | None = None
    ) -> RaceRows:
        """Feature rows for ``starters`` of ``race`` from the races folded in so far; ``quali_ms``
        (driver id -> best qualifying lap, ms) stands in for a race the tables do not hold."""
        if not starters:
            raise MissingGridError(f"no starting grid for {race.label}")
        n = len(starters)
        quali = (
            quali_ms
            if quali_ms is not None
            else {q.driver_id: q.best_ms for q in self.tables.qualifying_of(race.race_id)}
        )
        known = [t for t in quali.values() if t]
        pole_ms = min(known) if known else None
        leader_pts = max(self.season_points[race.year].values(), default=0.0)
        prev_pts = self.season_points.get(race.year - 1, {})
        prev_leader = max(prev_pts.values(), default=0.0)
        team_leader = max(self.team_points[race.year].values(), default=0.0)
        prev_team = self.team_points.get(race.year - 1, {})
        prev_team_leader = max(prev_team.values(), default=0.0)
        pole_prior = self.pole_all.smoothed(0.4, 10)
        sprint_rows = self.tables.sprint_of(race.race_id)
        sprint = {
            r.driver_id: (1.0 - (r.position_order - 1) / max(len(sprint_rows) - 1, 1), 0.0)
            for r in sprint_rows
        }
        rows = []
        for s in starters:
            grid = s.grid if s.grid > 0 else n
            slot = self.slots[min(grid, 26)]
            gap, missing = _quali_gap(quali.get(s.driver_id), pole_ms)
            d, t = self.drivers[s.driver_id], self.teams[s.constructor_id]
            if leader_pts > 0:
                d_share = self.season_points[race.year].get(s.driver_id, 0.0) / leader_pts
            else:
                d_share = prev_pts.get(s.driver_id, 0.0) / prev_leader if prev_leader > 0 else 0.0
            if team_leader > 0:
                t_share = self.team_points[race.year].get(s.constructor_id, 0.0) / team_leader
            else:
                t_share = prev_team.get(s.constructor_id, 0.0) / prev_team_leader if prev_team_leader else 0.0
            slot_prior = 1.0 / grid
            rows.append([
                grid, math.log(grid),
                slot[0].smoothed(slot_prior * 0.5, 5), slot[1].smoothed(min(1.0, 3 * slot_prior) * 0.5, 5),
                slot[2].smoothed(0.3, 5), gap, missing,
                d.get("score"), d.get("win"), d.get("podium"), d.get("points"), d.get("finish"),
                d_share, math.log1p(d.starts),
                t.get("score"), t.get("win"), t.get("podium"), t_share,
                d.get("gain"), t.get("gain"), t.get("grid"), *sprint.get(s.driver_id, (0.5, 1.0)),
                self.driver_circuit[(s.driver_id, race.circuit_id)].smoothed(d.get("score"), 2),
                self.circuit_pole[race.circuit_id].smoothed(pole_prior, 8), n, points_places(race.year),
            ])  # fmt: skip
        return RaceRows(race=race, starters=starters, x=np.asarray(rows, dtype=float))

    def outcome(self, rows: RaceRows) -> RaceRows:
        """``rows`` with the race's result filled in (finish order and points per starter)."""
        by_driver = {r.driver_id: r for r in self.tables.results_of(rows.race.race_id)}
        last = len(rows.starters)
        finish = [
            by_driver[s.driver_id].position_order if s.driver_id in by_driver else last for s in rows.starters
        ]
        points = [by_driver[s.driver_id].points if s.driver_id in by_driver else 0.0 for s in rows.starters]
        rows.finish, rows.points = np.asarray(finish, dtype=float), np.asarray(points, dtype=float)
        return rows

    # -- folding a race in ------------------------------------------------------------------

    def update(self, race: Race) -> None:
        """Fold ``race``'s results into the form figures (once; later calls are ignored)."""
        if race.race_id in self.seen:
            return
        self.seen.add(race.race_id)
        results = [r for r in self.tables.results_of(race.race_id) if not self._non_starter(r)]
        if not results:
            return
        n = len(results)
        grid_of = {r.driver_id: (r.grid if r.grid > 0 else n) for r in results}
        best_team: dict[int, tuple[float, float]] = {}
        team_hits: dict[int, tuple[float, float]] = {}
        for r in results:
            score = 1.0 - (r.position_order - 1) / max(n - 1, 1)
            grid_score = 1.0 - (grid_of[r.driver_id] - 1) / max(n - 1, 1)
            win, podium = float(r.position_order == 1), float(r.position_order <= 3)
            pts = float(r.points > 0)
            self.drivers[r.driver_id].add(
                score, win, podium, pts, finish=float(self.tables.finished(r)), grid=grid_score
            )
            old = best_team.get(r.constructor_id, (0.0, 0.0))
            best_team[r.constructor_id] = (max(old[0], score), max(old[1], grid_score))
            w, p = team_hits.get(r.constructor_id, (0.0, 0.0))
            team_hits[r.constructor_id] = (max(w, win), max(p, podium))
            dc = self.driver_circuit[(r.driver_id, race.circuit_id)]
            dc.hits, dc.n = dc.hits + score, dc.n + 1
            slot = self.slots[min(grid_of[r.driver_id], 26)]
            for rate, hit in zip(slot, (win, podium, pts), strict=True):
                rate.hits, rate.n = rate.hits + hit, rate.n + 1
            season = self.season_points[race.year]
            season[r.driver_id] = season.get(r.driver_id, 0.0) + r.points
            teams = self.team_points[race.year]
            teams[r.constructor_id] = teams.get(r.constructor_id, 0.0) + r.points
        for team_id, (score, grid_score) in best_team.items():
            w, p = team_hits[team_id]
            self.teams[team_id].add(score, w, p, 0.0, finish=0.0, grid=grid_score)
        pole = min(results, key=lambda r: grid_of[r.driver_id])
        pole_won = float(pole.position_order == 1)
        for rate in (self.circuit_pole[race.circuit_id], self.pole_all):
            rate.hits, rate.n = rate.hits + pole_won, rate.n + 1


def _quali_gap(best_ms: int | None, pole_ms: int | None) -> tuple[float, float]:
    if best_ms is None or pole_ms is None or pole_ms <= 0:
        return QUALI_GAP_CAP_PCT / 2, 1.0
    return min(QUALI_GAP_CAP_PCT, (best_ms / pole_ms - 1.0) * 100.0), 0.0
