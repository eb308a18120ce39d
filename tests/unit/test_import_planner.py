"""Pure parts of ``shared.services.import_planner``: FastF1 identifiers, task-name hashes, the
season catalogue's rules and the report's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.imports.gaps import DataType, SessionHoldings, SessionSpec, find_gaps
from shared.models.schedule import Session
from shared.services.import_planner import (
    SeasonCatalogue,
    SeasonGaps,
    _known,
    fastf1_session,
    report_rows,
    types_hash,
)

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


def test_report_rows_list_every_session_with_upstream_and_missing_types() -> None:
    gaps = _gaps()
    rows = {r["session_id"]: r for r in report_rows(gaps)}
    assert set(rows) == set(gaps.sessions)
    q = rows["2023_azerbaijan_grand_prix_q"]
    assert set(q["upstream"]) == set(q["missing"]) == {t.value for t in DataType}
    assert q["calls"] == {"f1_static": 8, "jolpica": 1, "multiviewer": 1}
    sq = rows["2023_azerbaijan_grand_prix_sq"]
    assert "results" not in sq["upstream"] and sq["calls"] == {"f1_static": 8, "multiviewer": 1}
    assert q["in_archive"] is None and q["not_yet"] is False


def test_types_an_import_found_absent_leave_the_upstream_list() -> None:
    spec = _gaps().specs["2023_azerbaijan_grand_prix_q"]
    have = SessionHoldings(
        session_id=spec.session_id, types={DataType.WEATHER: "unavailable", DataType.LAPS: "complete"}
    )
    known = _known(spec, have)
    assert known.absent == {DataType.WEATHER}
    assert _known(spec, SessionHoldings(session_id=spec.session_id)) == spec


def _catalogue(fetched: datetime) -> SeasonCatalogue:
    sessions = [_session("q", "Qualifying"), _session("sq", "Sprint Shootout")]
    return SeasonCatalogue(
        year=2023,
        fetched_utc=fetched,
        sessions=sessions,
        archive={"2023_azerbaijan_grand_prix_q": ["TimingData", "TimingAppData"]},
    )


def test_a_catalogue_read_after_the_season_is_settled() -> None:
    assert _catalogue(datetime(2024, 1, 1, tzinfo=UTC)).settled()
    assert not _catalogue(START + timedelta(hours=1)).settled()  # the session was not over yet


def test_catalogue_specs_follow_the_archive_index() -> None:
    cat = _catalogue(datetime(2024, 1, 1, tzinfo=UTC))
    q, sq = cat.sessions
    assert cat.spec(q).topics == {"TimingData", "TimingAppData"}
    assert cat.spec(sq).topics == frozenset()  # not in the index: no archive folder
    assert cat.model_copy(update={"archive": None}).spec(q).topics is None  # no index: unknown
