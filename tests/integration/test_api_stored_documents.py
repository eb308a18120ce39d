"""What the writers really store validates against the checked-in JSON Schemas of the listened-to
documents: the schedule sync's writers (2024 season with supporting series), the live pipeline
(the 2024 British GP practice 1 replayed through the ingest service) and the travel-race import
and mapping fields, read back raw from the Firestore emulator."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import jsonschema_rs

from shared.api.doc_schemas import DEFAULT_FOLDER, DOCUMENTS
from shared.config import Settings
from shared.races.mapping import Match, TravelRace
from shared.services.ingest import ingest, messages_from_source
from shared.stores.races import apply_mapping, import_races
from shared.timing.reducer import SessionReducer
from tests.function.test_api_predictions import store_predictions
from tests.function.test_api_travel import DATA, seed_season

FP1 = DATA / "livetiming/static/2024/2024-07-07_British_Grand_Prix/2024-07-05_Practice_1"
SID = "2024_british_grand_prix_fp1"


def _json(value: Any) -> Any:
    """A document as a listener's JSON: a Firestore timestamp becomes its ISO form."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def _validator(name: str) -> Any:
    schema = json.loads((DEFAULT_FOLDER / f"{name}.schema.json").read_text())
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def test_stored_documents_match_their_schemas(firestore_db: Any, settings: Settings) -> None:
    seed_season(firestore_db, settings, 2024)
    source = messages_from_source(str(FP1), settings=settings)
    ingest(source.messages, reducer=SessionReducer(), db=firestore_db, publisher=None, settings=settings)
    import_races(
        firestore_db,
        [TravelRace(race_id="gbr-2024", name="British GP", circuit="Silverstone", date="2024-07-07")],
    )
    apply_mapping(
        firestore_db,
        "gbr-2024",
        Match(meeting_key=1240, session_key=9558),
        fingerprint="f",
        now=datetime.now().astimezone(),
    )
    store_predictions(firestore_db, SID)
    paths = {
        "MeetingDoc": "meetings",
        "WeekendTimelineDoc": "meetings/2024_belgian_grand_prix/timeline",
        "SessionDoc": "sessions",
        "TimingTowerDoc": f"sessions/{SID}/live",
        "DriverRowDoc": f"sessions/{SID}/drivers",
        "LapDoc": f"sessions/{SID}/laps",
        "RaceControlDoc": f"sessions/{SID}/race_control",
        "WeatherDoc": f"sessions/{SID}/weather",
        "RaceDoc": "races",
        "PredictionDoc": "predictions",
    }
    assert set(paths) == {d.name for d in DOCUMENTS}
    for name, collection in paths.items():
        validator = _validator(name)
        docs = [_json(s.to_dict()) for s in firestore_db.collection(collection).stream()]
        assert docs, f"nothing stored in {collection}"
        for doc in docs:
            errors = [e.message for e in validator.iter_errors(doc)]
            assert not errors, f"{name} {collection}: {errors[:3]}"
    # Top-level instants are Firestore timestamps, as the schemas and TypeScript types say.
    lap = next(iter(firestore_db.collection(f"sessions/{SID}/laps").stream())).to_dict()
    assert isinstance(lap["completed_utc"], datetime)
    session = firestore_db.document(f"sessions/{SID}").get().to_dict()
    assert isinstance(session["updated_utc"], datetime) and isinstance(session["start_utc"], datetime)
    # ...and a document of the wrong shape is caught.
    assert not _validator("LapDoc").is_valid({"session_id": SID, "driver_number": 44, "lap_number": 1})
