"""Gap-import run summaries, MultiViewer circuit parsing and FastF1's loopback exemption (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.imports.circuit import parse_circuit
from shared.imports.gaps import DataType, Host
from shared.imports.runs import SessionOutcome, summarise
from shared.sources.fastf1_client import LOOPBACK, _exempt_loopback

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
T0 = datetime(2026, 11, 21, 10, tzinfo=UTC)


def _outcome(sid: str, status: str, calls: int, error: str | None = None) -> SessionOutcome:
    return SessionOutcome(
        session_id=sid, status=status, data_types=[DataType.LAPS], calls={Host.F1_STATIC: calls}, error=error
    )


def test_summary_counts_each_state_and_every_call() -> None:
    outcomes = [
        _outcome("a", "complete", 8),
        _outcome("b", "partial", 7),
        _outcome("c", "failed", 9, "503 after retries"),
        _outcome("d", "unavailable", 7),
        _outcome("e", "complete", 8),
    ]
    summary = summarise(
        run_id="r1",
        season=2023,
        outcomes=outcomes,
        planning_calls={Host.F1SCHEDULE: 1, Host.F1_STATIC: 1},
        calls_left=10,
        deferred=["f", "g"],
        started=T0,
        ended=T0 + timedelta(seconds=42.5),
    )
    assert (summary.processed, summary.succeeded, summary.partial, summary.failed, summary.unavailable) == (
        5,
        2,
        1,
        1,
        1,
    )
    assert summary.calls_spent == 2 + 8 + 7 + 9 + 7 + 8
    assert summary.duration_s == 42.5 and summary.deferred == ["f", "g"]
    # what notify_import_events reads of it (shared.notify.render.ImportSummary)
    from shared.notify.render import ImportSummary, ops_alert

    text = ops_alert(ImportSummary.model_validate(summary.model_dump(mode="json"))).text
    assert text.startswith(":warning: *Gap import 2023*: 1 failed, 1 partial of 5 processed")
    assert "(2 complete, 1 unavailable upstream)" in text and "; 2 deferred" in text
    assert "- c: failed (503 after retries)" in text and "- a:" not in text


@pytest.mark.skipif(not DATA.is_dir(), reason="recorded data folder not present")
def test_monza_2020_layout_from_the_recorded_multiviewer_answer() -> None:
    payload = json.loads((DATA / "multiviewer" / "circuits" / "39" / "2020.json").read_text())
    layout = parse_circuit(payload, circuit_key=39, year=2020)
    assert layout is not None and layout.doc_id == "39_2020"
    assert [c.number for c in layout.corners] == list(range(1, 12))
    assert layout.rotation_deg == 95 and layout.circuit_name == "Monza" and layout.country == "Italy"
    assert len(layout.marshal_sectors) == 17 and len(layout.outline_x) == len(layout.outline_y)
    assert layout.pit_loss_s == {"normal": 25.43, "sc": 16.11, "vsc": 18.4}
    first = layout.corners[0]
    assert first.distance_m == pytest.approx(907.04, abs=0.01)


def test_bad_points_are_skipped_and_no_corners_is_no_layout() -> None:
    payload = {
        "corners": [{"number": 1, "trackPosition": {"x": 1, "y": 2}}, {"number": "x"}, "junk"],
        "rotation": None,
        "x": [1, "bad"],
    }
    layout = parse_circuit(payload, circuit_key=1, year=2024)
    assert layout is not None and len(layout.corners) == 1 and layout.outline_x == []
    assert parse_circuit({"corners": []}, circuit_key=1, year=2024) is None


@pytest.mark.parametrize(
    ("url", "limited"),
    [
        ("http://127.0.0.1:8703/static/2023/Index.json", False),
        ("http://localhost:8703/ergast/f1/2023.json", False),
        ("https://livetiming.formula1.com/static/2023/Index.json", True),
        ("https://api.jolpi.ca/ergast/f1/2023.json", True),
    ],
)
def test_fastf1_limits_stay_for_real_hosts_only(url: str, limited: bool) -> None:
    import fastf1.req

    class Session:  # FastF1's own table, patched on a copy
        _RATE_LIMITS = dict(fastf1.req._SessionWithRateLimiting._RATE_LIMITS)

    _exempt_loopback(Session)
    _exempt_loopback(Session)  # idempotent
    assert len(Session._RATE_LIMITS) == len(fastf1.req._SessionWithRateLimiting._RATE_LIMITS)
    assert any(p.match(url) for p in Session._RATE_LIMITS) is limited
    assert all(p.pattern.startswith("^https?://" + LOOPBACK) for p in Session._RATE_LIMITS)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["complete", "unavailable"], "complete"),
        (["unavailable", "unavailable"], "unavailable"),
        (["complete", "failed"], "partial"),
        (["partial"], "partial"),
        (["failed", "unavailable"], "failed"),
    ],
)
def test_a_sessions_state_over_its_types(states: list[str], expected: str) -> None:
    from shared.services.session_import import overall

    kinds = [DataType.LAPS, DataType.WEATHER]
    assert overall(dict(zip(kinds, states, strict=False))) == expected  # type: ignore[arg-type]
