"""Pure parts of ``shared.services.import_planner``: FastF1 identifiers, task-name hashes, the
importable subset of a gap report and the hard-cap bound."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.imports.gaps import DataType, Host, SessionSpec, find_gaps
from shared.models.schedule import Session
from shared.services.import_planner import SeasonGaps, fastf1_session, importable, types_hash, worst_calls

START = datetime(2023, 4, 29, 9, 30, tzinfo=UTC)


def _session(code: str, name: str) -> Session:
    return Session(
        session_id=f"2023_azerbaijan_grand_prix_{code}",
        meeting_id="2023_azerbaijan_grand_prix",
        year=2023,
        round=4,
        name=name,
        code=code,
        start_utc=START,
        start_local=START.replace(tzinfo=None),
        gmt_offset="+04:00",
    )


def test_fastf1_session_identifiers() -> None:
    assert fastf1_session(_session("sq", "Sprint Shootout")) == "SS"
    assert fastf1_session(_session("sq", "Sprint Qualifying")) == "SQ"
    assert [fastf1_session(_session(c, "x")) for c in ("fp1", "fp2", "fp3", "q", "s", "r")] == [
        "FP1",
        "FP2",
        "FP3",
        "Q",
        "S",
        "R",
    ]


def test_types_hash_ignores_order_and_changes_with_the_types() -> None:
    a = types_hash([DataType.LAPS, DataType.WEATHER])
    assert a == types_hash([DataType.WEATHER, DataType.LAPS])
    assert a != types_hash([DataType.LAPS])
    assert len(a) == 10


def _gaps() -> SeasonGaps:
    sessions = [_session("q", "Qualifying"), _session("sq", "Sprint Shootout")]
    specs = {s.session_id: SessionSpec.from_session(s) for s in sessions}
    report = find_gaps(
        2023, specs.values(), held_meetings=(), holdings={}, now=datetime(2024, 1, 1, tzinfo=UTC)
    )
    return SeasonGaps(
        year=2023,
        report=report,
        sessions={s.session_id: s for s in sessions},
        specs=specs,
        archive_index=False,
        calls={},
    )


def test_importable_drops_circuit_info_and_its_calls() -> None:
    gaps = _gaps()
    assert all(DataType.CIRCUIT_INFO in g.missing for g in gaps.report.sessions)
    report = importable(gaps)
    assert [g.session_id for g in report.sessions] == [g.session_id for g in gaps.report.sessions]
    for gap in report.sessions:
        assert DataType.CIRCUIT_INFO not in gap.missing and Host.MULTIVIEWER not in gap.calls
    assert Host.MULTIVIEWER not in report.calls
    q = next(g for g in report.sessions if g.code == "q")
    assert q.calls == {Host.F1_STATIC: 8, Host.JOLPICA: 1}
    assert worst_calls(q) == 2 * 8 + 1 + 1
    assert gaps.in_archive(q.session_id) is None


def test_nothing_importable_means_no_season_calls() -> None:
    gaps = _gaps()
    only_circuit = tuple(
        g.model_copy(update={"missing": (DataType.CIRCUIT_INFO,)}) for g in gaps.report.sessions
    )
    gaps = gaps.model_copy(update={"report": gaps.report.model_copy(update={"sessions": only_circuit})})
    report = importable(gaps)
    assert report.sessions == () and report.season_calls == {} and report.calls == {}
