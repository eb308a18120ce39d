"""The pure maths of predictions: per-race normalisation, scoring, the live simulation, the race
state from laps and race control, the qualifying grid. Hand-made inputs only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shared.predict.live import CarState, RaceState, simulate, stops_due
from shared.predict.normalise import capped_total, race_totals
from shared.predict.params import RaceParams
from shared.predict.qualifying import DriverPace, predict_grid
from shared.predict.scoring import score, score_by_driver, summarise
from shared.predict.state import race_state, track_state
from shared.timing.models import Lap, RaceControlMessage

T0 = datetime(2024, 5, 5, 14, 0, tzinfo=UTC)
PARAMS = RaceParams(pit_loss_s=22.0, sc_per_lap=0.01, dnf_per_lap=0.002, max_stint_laps=30, lap_time_s=90.0)

# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_capped_total_sums_to_the_total_within_bounds(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 24))
    raw = rng.random(n) ** 3
    win = capped_total(raw, 1.0)
    podium = capped_total(raw * 4, 3.0, win)
    points = capped_total(raw * 9, 10.0, podium)
    assert win.sum() == pytest.approx(1.0)
    assert podium.sum() == pytest.approx(min(3, n))
    assert points.sum() == pytest.approx(min(10, n))
    assert np.all((win >= 0) & (win <= podium + 1e-12) & (podium <= points + 1e-12) & (points <= 1.0))


def test_capped_total_holds_values_at_one_and_spreads_the_rest() -> None:
    p = capped_total(np.array([0.9, 0.8, 0.1, 0.1]), 3.0)
    assert p[0] == p[1] == 1.0
    assert p[2] == p[3] == pytest.approx(0.5)
    assert np.array_equal(capped_total(np.zeros(4), 1.0), np.full(4, 0.25))
    with pytest.raises(ValueError, match="floors"):
        capped_total(np.ones(3), 1.0, np.ones(3))
    assert race_totals(2, 10) == (1.0, 2.0, 2.0)


# --- scoring ------------------------------------------------------------------------------------


def test_score_of_one_race_by_hand() -> None:
    win = np.array([0.5, 0.3, 0.2, 0.0])
    finish = np.array([2, 1, 3, 4])
    s = score(win, finish, podium=np.array([0.9, 0.8, 0.5, 0.8]))
    assert s.brier_win == pytest.approx((0.25 + 0.49 + 0.04 + 0.0) / 4)
    expected_ll = -(np.log(1 - 0.5) + np.log(0.3) + np.log(1 - 0.2) + np.log(1 - 1e-6)) / 4
    assert s.log_loss_win == pytest.approx(expected_ll)
    assert s.winner_hit is False
    assert s.podium_overlap == pytest.approx(2 / 3)  # top three: 0, 1, 3; podium: 0, 1, 2
    grid_rule = score(win, finish, ranking=-np.array([2.0, 1.0, 3.0, 4.0]))
    assert grid_rule.winner_hit is True and grid_rule.podium_overlap == 1.0


def test_score_by_driver_and_summary_pool_starters() -> None:
    a = score_by_driver({"1": 1.0, "2": 0.0}, {"1": 1.0, "2": 1.0}, {"1": 1, "2": 2})
    b = score(np.full(4, 0.25), np.array([1, 2, 3, 4]))
    assert a.brier_win == 0.0 and a.winner_hit
    summary = summarise([a, b])
    assert summary.races == 2
    assert summary.brier_win == pytest.approx((0.0 * 2 + b.brier_win * 4) / 6)
    assert summary.winner_accuracy == pytest.approx((1 + int(b.winner_hit)) / 2)
    with pytest.raises(ValueError):
        score(np.ones(2), np.ones(3))


# --- the live simulation ------------------------------------------------------------------------


def state(
    gaps: list[float], *, laps_done: int = 40, total: int = 50, track: str = "green", **kw: object
) -> RaceState:
    cars = [CarState(str(i + 1), g, 0.5, stops_made=1, tyre_age_laps=5) for i, g in enumerate(gaps)]
    return RaceState(laps_done=laps_done, total_laps=total, track=track, cars=cars, **kw)  # type: ignore[arg-type]


def test_simulation_probabilities_add_up_and_retired_cars_get_nothing() -> None:
    s = state([0.0, 1.0, 2.5, 5.0, 30.0])
    cars = [*s.cars[:4], CarState("5", 30.0, 0.5, running=False)]
    out = simulate(RaceState(laps_done=40, total_laps=50, track="green", cars=cars), PARAMS, seed=1)
    assert out.win.sum() == pytest.approx(1.0)
    assert out.podium.sum() == pytest.approx(3.0)
    assert out.points.sum() == pytest.approx(4.0)  # four cars running
    assert out.win[4] == out.podium[4] == out.points[4] == 0.0
    assert np.all(out.win_lo <= out.win) and np.all(out.win <= out.win_hi)
    assert list(simulate(s, PARAMS, seed=1).win) == list(simulate(s, PARAMS, seed=1).win)  # seeded


def test_a_lead_grows_surer_as_laps_run_out_and_a_safety_car_erases_it() -> None:
    early = simulate(state([0.0, 8.0, 16.0], laps_done=10), PARAMS, seed=2).win[0]
    late = simulate(state([0.0, 8.0, 16.0], laps_done=48), PARAMS, seed=2).win[0]
    under_sc = simulate(state([0.0, 8.0, 16.0], laps_done=10, track="sc"), PARAMS, seed=2).win[0]
    assert late > early > under_sc
    assert late > 0.95


def test_stops_due() -> None:
    fresh = CarState("1", 0.0, 0.5, stops_made=0, tyre_age_laps=0)
    assert stops_due(fresh, PARAMS, laps_left=50) == 1  # the two-compound rule, one stint of 30
    assert stops_due(fresh, PARAMS, laps_left=70) == 2
    stopped = CarState("1", 0.0, 0.5, stops_made=1, tyre_age_laps=3)
    assert stops_due(stopped, PARAMS, laps_left=20) == 0
    assert stops_due(stopped, PARAMS, laps_left=2) == 0
    wet = CarState("1", 0.0, 0.5, stops_made=0, tyre_age_laps=0, compound="INTERMEDIATE")
    assert stops_due(wet, PARAMS, laps_left=40) == 0


# --- the race state from laps -------------------------------------------------------------------


def lap(driver: str, n: int, at_s: float, **kw: object) -> Lap:
    return Lap(session_id="s", driver_number=driver, lap_number=n, completed_utc=T0 + timedelta(seconds=at_s),
               stint=kw.pop("stint", 1), tyre_age_laps=kw.pop("age", n), **kw)  # type: ignore[arg-type]  # fmt: skip


def test_race_state_gaps_retirements_and_pit_stops() -> None:
    laps = [
        lap("1", 9, 900.0), lap("1", 10, 990.0),
        lap("2", 9, 902.0), lap("2", 10, 993.0),
        lap("3", 9, 905.0), lap("3", 10, 997.0, pit_in=True),
        lap("1", 7, 720.0),
        lap("4", 6, 610.0),  # overdue: the leader completed its next lap 280 s ago (> 2.5 laps + 30 s)
        lap("5", 10, 1090.0),  # completed after the instant: not seen yet
        lap("5", 9, 985.0),  # a lap down
    ]  # fmt: skip
    entrants = [(str(n), n, 0.5) for n in range(1, 7)]
    st, places = race_state(laps, entrants=entrants, at=T0 + timedelta(seconds=1000), total_laps=50,
                            track="green", params=PARAMS)  # fmt: skip
    cars = {c.driver_number: c for c in st.cars}
    assert st.laps_done == 10
    assert cars["1"].gap_s == 0.0 and cars["2"].gap_s == pytest.approx(3.0)
    assert cars["3"].stops_made == 1 and cars["3"].gap_s == pytest.approx(7.0 + 22.0)
    assert cars["3"].tyre_age_laps == 0
    assert cars["5"].gap_s == pytest.approx(85.0)  # 985 - 900 on lap 9
    assert not cars["4"].running and not cars["6"].running  # overdue; never completed a lap
    assert places == {"1": 1, "2": 2, "3": 3, "5": 4}


def test_race_state_before_the_field_completes_lap_one() -> None:
    entrants = [("1", 1, 0.5), ("2", 2, 0.5), ("3", 3, 0.5)]
    at = T0 + timedelta(seconds=100)
    st, places = race_state(
        [lap("1", 1, 100.0)], entrants=entrants, at=at, total_laps=50, track="green", params=PARAMS
    )
    assert all(c.running for c in st.cars)
    assert places == {"1": 1, "2": 2, "3": 3}  # the others by grid slot until they cross the line


def rc(
    n: int, at_s: float, message: str, category: str = "SafetyCar", flag: str | None = None
) -> RaceControlMessage:
    return RaceControlMessage(session_id="s", n=n, utc=T0 + timedelta(seconds=at_s), message=message,
                              category=category, flag=flag)  # fmt: skip


def test_track_state_from_race_control() -> None:
    msgs = [
        rc(1, 100, "SAFETY CAR DEPLOYED"),
        rc(2, 400, "SAFETY CAR IN THIS LAP"),
        rc(3, 900, "VIRTUAL SAFETY CAR DEPLOYED"),
        rc(4, 1000, "RED FLAG", category="Flag", flag="RED"),
    ]
    laps = [lap("1", 5, 450.0)]
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    assert track_state(msgs, laps, at=at(50)) == "green"
    assert track_state(msgs, laps, at=at(200)) == "sc"
    assert track_state(msgs, laps, at=at(420)) == "sc_ending"
    assert track_state(msgs, laps, at=at(460)) == "green"  # the leader crossed the line after it
    assert track_state(msgs, laps, at=at(950)) == "vsc"
    assert track_state(msgs, laps, at=at(1100)) == "red"


# --- the qualifying grid ------------------------------------------------------------------------


def test_predicted_grid() -> None:
    paces = [
        DriverPace("1", 80_000), DriverPace("2", 80_400), DriverPace("3", 81_500),
        DriverPace("4", None, practice_ms=82_000), DriverPace("5", None),
        *[DriverPace(str(n), 82_000 + n * 100) for n in range(6, 16)],
    ]  # fmt: skip
    out = predict_grid(paces, progress=0.9, seed=3)
    grid = dict(zip(out.drivers, out.predicted_grid, strict=True))
    assert (grid["1"], grid["2"], grid["4"], grid["3"]) == (1, 2, 3, 4)  # practice less the usual gain
    assert grid["5"] == len(paces)  # no time and no practice: last
    assert out.p_pole.sum() == pytest.approx(1.0) and out.p_top10.sum() == pytest.approx(10.0)
    early = predict_grid(paces, progress=0.0, seed=3)
    assert early.p_pole[0] < out.p_pole[0]  # more laps to come: less sure
