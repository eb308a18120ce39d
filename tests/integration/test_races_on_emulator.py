"""Race mapping on the Firestore emulator against the real upstream server over the recorded data.

Acceptance (issue 4): a travel-app race list for 2024 maps its Singapore race to meeting 1246 and
race session 9606; races the upstream does not know (only Singapore 2024 is recorded) are listed by
``pitlane races unmapped`` with the reason; a second mapping run changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import infra.cli
from infra.cli import main
from shared.config import load_settings
from shared.errors import NotFoundError
from shared.races.mapping import TravelRace
from shared.services.race_mapping import RaceKeys, map_races, race_for_meeting, resolve_race
from shared.sources.http import make_http_client
from shared.sources.openf1 import OpenF1Client
from shared.stores.races import import_races
from tests.integration.upstream_fixture import Upstream, running_upstream

RACES_FILE = Path(__file__).resolve().parents[1] / "data" / "races_2024.json"
FAST = {"PITLANE_OPENF1_RATE_PER_S": "1000", "PITLANE_OPENF1_RATE_PER_MIN": "60000"}  # rate not under test
UNMAPPED = {
    "bhr-2024": "no meeting on 2024-03-02 at Bahrain International Circuit",
    "mco-2024": "no meeting on 2024-05-26 at Circuit de Monaco",
    "aze-2024": "no meeting on 2024-09-15 at Baku City Circuit",
    "atl-2024": "no meeting on 2024-09-21 at Poseidon Harbour Circuit; "
    "that day: Singapore Grand Prix at Marina Bay",
    "usa-2024": "no meeting on 2024-10-20 at Circuit of the Americas",
    "lvg-2024": "no meeting on 2024-11-23 at Las Vegas Strip Circuit",
    "abu-2024": "no meeting on 2024-12-08 at yas_marina",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream(data_dir=load_settings().require_data_dir) as server:
        yield server


@pytest.fixture
def env(firestore_env: str, upstream: Upstream) -> dict[str, str]:
    """The environment a shell gets from ``source .pitlane/stack.env``: emulator and upstream."""
    upstream.reset()
    os.environ.update({"PITLANE_OPENF1_URL": upstream.url, **FAST})
    return dict(os.environ)


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[OpenF1Client]:
    settings = load_settings()
    with make_http_client(settings) as http:
        yield OpenF1Client(settings=settings, http=http)


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pitlane races`` in-process (until infra/cli.py lists infra.races_cli itself)."""
    if "infra.races_cli" not in infra.cli.COMMAND_MODULES:
        monkeypatch.setattr(infra.cli, "COMMAND_MODULES", (*infra.cli.COMMAND_MODULES, "infra.races_cli"))


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, list[str], str]:
    rc = main(["races", *args, "--state-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    return rc, out.strip().splitlines(), err


def race_list() -> list[TravelRace]:
    return [TravelRace.model_validate(r) for r in json.loads(RACES_FILE.read_text())["races"]]


def update_times(db: Any) -> dict[str, Any]:
    return {
        f"{name}/{snap.id}": snap.update_time
        for name in ("races", "race_keys")
        for snap in db.collection(name).stream()
    }


def test_a_2024_race_list_maps_singapore_and_explains_the_rest(
    firestore_db: Any, client: OpenF1Client, env: dict[str, str], upstream: Upstream
) -> None:
    assert import_races(firestore_db, race_list()).created == 8
    report = map_races(db=firestore_db, client=client, settings=load_settings())
    assert report.summary() == {
        "seasons": [2024], "races": 8, "mapped": 1, "unmapped": 7, "unchanged": 0, "writes": 9
    }  # fmt: skip
    sgp = firestore_db.document("races/sgp-2024").get().to_dict()
    assert (sgp["openf1_meeting_key"], sgp["openf1_session_key"], sgp["mapping_status"]) == (
        1246,
        9606,
        "mapped",
    )
    assert sgp["unmapped_reason"] is None and sgp["mapped_utc"] is not None and sgp["circuit"]
    claim = firestore_db.document("race_keys/1246").get().to_dict()
    assert claim == {"race_id": "sgp-2024", "meeting_key": 1246, "session_key": 9606}
    for race_id, reason in UNMAPPED.items():
        doc = firestore_db.document(f"races/{race_id}").get().to_dict()
        assert (doc["mapping_status"], doc["unmapped_reason"], doc["openf1_meeting_key"]) == (
            "unmapped", reason, None
        )  # fmt: skip
    asked = [(r["path"], r["query"]) for r in upstream.requests()]
    assert asked == [("/v1/meetings", "year=2024"), ("/v1/sessions", "year=2024&session_name=Race")]

    before = update_times(firestore_db)
    assert len(before) == 9
    again = map_races(db=firestore_db, client=client, settings=load_settings())
    assert again.summary() == {
        "seasons": [2024], "races": 8, "mapped": 0, "unmapped": 0, "unchanged": 8, "writes": 0
    }  # fmt: skip
    assert update_times(firestore_db) == before


def test_keys_resolve_both_ways(firestore_db: Any, client: OpenF1Client) -> None:
    import_races(firestore_db, race_list())
    map_races(db=firestore_db, client=client, settings=load_settings())
    assert resolve_race(firestore_db, "sgp-2024") == RaceKeys(
        race_id="sgp-2024", meeting_key=1246, session_key=9606
    )
    assert race_for_meeting(firestore_db, 1246) == "sgp-2024"
    with pytest.raises(NotFoundError, match="no meeting on 2024-03-02"):
        resolve_race(firestore_db, "bhr-2024")
    with pytest.raises(NotFoundError, match="unknown race"):
        resolve_race(firestore_db, "nope-2024")
    with pytest.raises(NotFoundError, match="meeting 1229"):
        race_for_meeting(firestore_db, 1229)


def test_a_meeting_goes_to_one_race_and_new_or_changed_races_are_picked_up(
    firestore_db: Any, client: OpenF1Client, upstream: Upstream
) -> None:
    (sgp,) = [r for r in race_list() if r.race_id == "sgp-2024"]
    import_races(firestore_db, [sgp])
    assert map_races(db=firestore_db, client=client, settings=load_settings()).summary()["mapped"] == 1
    upstream.reset()
    assert map_races(db=firestore_db, client=client, settings=load_settings()).writes == 0
    assert upstream.requests() == []  # only mapped, unchanged races: OpenF1 is not asked

    # A new race claiming the same meeting (its id sorts first) is unmapped: the holder keeps it.
    copy = sgp.model_copy(update={"race_id": "a-sgp-copy", "name": "Singapore GP (copy)"})
    import_races(firestore_db, [copy])
    report = map_races(db=firestore_db, client=client, settings=load_settings())
    results = {r.race_id: r for r in report.races}
    assert results["a-sgp-copy"].reason == "meeting already mapped to sgp-2024"
    assert results["sgp-2024"].status == "mapped" and not results["sgp-2024"].changed

    # The holder moves to another day: it gives the meeting up, and the copy takes it, in one run.
    import_races(firestore_db, [sgp.model_copy(update={"date": sgp.date.replace(month=3)})])
    report = map_races(db=firestore_db, client=client, settings=load_settings())
    results = {r.race_id: r for r in report.races}
    assert results["sgp-2024"].reason == "no meeting on 2024-03-22 at Marina Bay Street Circuit"
    assert (results["a-sgp-copy"].meeting_key, results["a-sgp-copy"].session_key) == (1246, 9606)
    assert race_for_meeting(firestore_db, 1246) == "a-sgp-copy"
    assert map_races(db=firestore_db, client=client, settings=load_settings()).writes == 0


def test_an_unknown_season_and_a_bad_document_are_reported(firestore_db: Any, client: OpenF1Client) -> None:
    future = TravelRace.model_validate(
        {"race_id": "sgp-2031", "name": "Singapore GP", "circuit": "Marina Bay", "date": "2031-09-21"}
    )
    import_races(firestore_db, [future])
    firestore_db.document("races/broken").set({"name": "Broken GP", "circuit": "x", "date": "someday"})
    report = map_races(db=firestore_db, client=client, settings=load_settings())
    reasons = {r.race_id: r.reason for r in report.races}
    assert reasons["sgp-2031"] == "no OpenF1 meeting in 2031"
    assert reasons["broken"] is not None and reasons["broken"].startswith("invalid race document: date:")
    assert map_races(db=firestore_db, client=client, settings=load_settings(), season=2031).writes == 0


def test_pitlane_races_import_map_and_unmapped(
    firestore_db: Any, env: dict[str, str], cli: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, out, err = run(capsys, tmp_path, "import", str(RACES_FILE))
    assert rc == 0, err
    assert json.loads(out[-1]) == {"races": 8, "created": 8, "updated": 0, "unchanged": 0}
    rc, out, _ = run(capsys, tmp_path, "import", str(RACES_FILE))
    assert json.loads(out[-1])["unchanged"] == 8

    rc, out, err = run(capsys, tmp_path, "map", "--season", "2024")
    assert rc == 0, err
    assert "sgp-2024\t2024-09-22\tmapped\tmeeting 1246 session 9606  (changed)" in out
    assert {k: json.loads(out[-1])[k] for k in ("mapped", "unmapped", "unchanged")} == {
        "mapped": 1, "unmapped": 7, "unchanged": 0
    }  # fmt: skip
    rc, out, _ = run(capsys, tmp_path, "map")
    assert rc == 0 and json.loads(out[-1])["unchanged"] == 8 and json.loads(out[-1])["writes"] == 0

    rc, out, err = run(capsys, tmp_path, "unmapped")
    assert rc == 0 and "races: 7 unmapped" in err
    rows = [line.split("\t") for line in out]
    assert [r[0] for r in rows] == [
        "bhr-2024",
        "mco-2024",
        "aze-2024",
        "atl-2024",
        "usa-2024",
        "lvg-2024",
        "abu-2024",
    ]
    assert {r[0]: r[3] for r in rows} == UNMAPPED
    assert rows[0][1:3] == ["2024-03-02", "Bahrain Grand Prix"]


def test_pitlane_races_import_rejects_a_bad_list(
    firestore_db: Any, env: dict[str, str], cli: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "races.json"
    bad.write_text(json.dumps([{"race_id": "x", "name": "X", "circuit": "Y", "date": "soon"}]))
    rc, _, err = run(capsys, tmp_path, "import", str(bad))
    assert rc == 1 and "race 0: date:" in err
    assert list(firestore_db.collection("races").stream()) == []


def test_a_claim_of_a_deleted_race_is_taken_over(firestore_db: Any, client: OpenF1Client) -> None:
    (sgp,) = [r for r in race_list() if r.race_id == "sgp-2024"]
    import_races(firestore_db, [sgp])
    map_races(db=firestore_db, client=client, settings=load_settings())
    firestore_db.document("races/sgp-2024").delete()  # the travel app dropped it; race_keys/1246 stays
    with pytest.raises(NotFoundError):
        race_for_meeting(firestore_db, 1246)
    import_races(firestore_db, [sgp.model_copy(update={"race_id": "sgp-2024-new"})])
    report = map_races(db=firestore_db, client=client, settings=load_settings())
    assert [(r.race_id, r.meeting_key) for r in report.races] == [("sgp-2024-new", 1246)]
    assert race_for_meeting(firestore_db, 1246) == "sgp-2024-new"
