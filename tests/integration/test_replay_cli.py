"""``pitlane replay`` into the Firestore and Pub/Sub emulators (the settings a sourced stack.env gives)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists

from infra.cli import main
from shared.config import Settings
from shared.events import TOPIC
from shared.gcp import topic_path

BAKU = (
    Path(__file__).resolve().parents[3]
    / "shared/data/livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix"
)
RACE = BAKU / "2018-04-29_Race"
SID = "2018_azerbaijan_grand_prix_r"
KEYS = ["session_id", "messages", "skipped", "laps", "drivers", "race_control", "events_published"]
KEYS += ["firestore_writes"]


@pytest.fixture
def race_events(pubsub: Any, settings: Settings) -> Iterator[str]:
    """The real ``race-events`` topic name in the test project, with a pull subscription."""
    topic = topic_path(settings, TOPIC)
    with contextlib.suppress(AlreadyExists):
        pubsub.publisher.create_topic(request={"name": topic})
    pubsub._topics.append(topic)  # deleted at teardown with the helper's own
    yield pubsub.make_pull_subscription(topic)


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, list[str], str]:
    rc = main(["replay", *args, "--state-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    return rc, out.strip().splitlines(), err


def test_replay_writes_and_publishes_then_a_rerun_adds_nothing(
    firestore_db: Any, race_events: str, pubsub: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, out, err = _run(capsys, tmp_path, str(RACE), "--speed", "max")
    assert rc == 0, err
    summary = json.loads(out[-1])
    assert list(summary) == KEYS
    assert summary["session_id"] == SID and summary["drivers"] == 20 and summary["race_control"] == 109
    assert summary["messages"] > 20_000 and summary["skipped"] == 0
    assert (
        summary["firestore_writes"] >= summary["laps"] + summary["race_control"] + summary["events_published"]
    )
    assert "replay: archive" in err
    assert (
        len(pubsub.pull_all(race_events, expected=summary["events_published"], timeout=30))
        == (summary["events_published"])
    )
    laps = list(firestore_db.collection(f"sessions/{SID}/laps").list_documents())
    assert len(laps) == summary["laps"]

    rc, out, _ = _run(capsys, tmp_path, str(RACE))
    again = json.loads(out[-1])
    assert rc == 0 and (again["events_published"], again["firestore_writes"]) == (0, 0)
    assert again["laps"] == summary["laps"]


def test_dry_run_touches_nothing(
    firestore_db: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rc, out, _ = _run(capsys, tmp_path, str(RACE), "--dry-run")
    summary = json.loads(out[-1])
    assert rc == 0 and summary["session_id"] == SID and summary["firestore_writes"] == 0
    assert summary["events_published"] == 0
    assert not firestore_db.document(f"sessions/{SID}").get().exists


def test_bad_arguments(firestore_db: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["replay", str(RACE), "--speed", "fast"])
    assert exc.value.code == 2
    rc, _, err = _run(capsys, tmp_path, str(tmp_path / "missing.jsonl"), "--dry-run")
    assert rc == 1 and "no such source" in err
    rc, _, err = _run(capsys, tmp_path, str(BAKU), "--dry-run")  # a meeting folder, not a session
    assert rc == 1 and "neither an archive session" in err
