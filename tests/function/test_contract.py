"""Contract test: schemathesis drives every operation of ``/api/openapi.json`` against the ``api``
function (functions-framework's WSGI app) over the Firestore emulator seeded with real data, and
checks every answer against the document: status codes, content types, headers, response
schemas, no 5xx, and that input outside the schema (wrong types, out-of-range values, bad
patterns) is rejected with a 4xx.

Seed (once for the module): the 2024 and 2025 schedules as ``sync_schedule`` stores them, the
2024 British GP practice 1 from the F1 archive replayed through the ingest service (laps, drivers,
race control, weather, the timing tower) and one travel-app race. Path parameters carry examples
naming that data, so the explicit phase reaches the 200 answers; generated values reach the 4xx.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import functions_framework
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from functions.api import answers, install
from shared import gcp
from shared.config import get_settings, load_settings
from shared.races.mapping import TravelRace
from shared.services.ingest import ingest, messages_from_source
from shared.stores.races import import_races
from shared.timing.reducer import SessionReducer
from tests.emulators import TEST_PROJECT, check_safe_target, wipe_firestore
from tests.function.test_api_predictions import store_predictions
from tests.function.test_api_travel import DATA, seed_season
from tests.unit.test_notify_auth import signed_token, trusted_public_pem

ROOT = Path(__file__).resolve().parents[2]
SILVERSTONE_FP1 = DATA / "livetiming/static/2024/2024-07-07_British_Grand_Prix/2024-07-05_Practice_1"
MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def seeded(firestore_emulator: Any) -> Iterator[Any]:
    """The emulator's test project, seeded once for every operation of this module."""
    saved = dict(os.environ)
    os.environ.update(
        {
            "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
            "PITLANE_ENV": "test",
            "FIRESTORE_EMULATOR_HOST": firestore_emulator.address,
            "PITLANE_AUTH_TEST_PUBLIC_KEY": trusted_public_pem(),
        }
    )
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    check_safe_target(os.environ, needs=("FIRESTORE_EMULATOR_HOST",))
    get_settings.cache_clear()
    gcp.reset_clients()
    wipe_firestore(firestore_emulator.address, TEST_PROJECT)
    settings = load_settings()
    db = gcp.firestore_client(settings)
    seed_season(db, settings, 2024)
    seed_season(db, settings, 2025)
    source = messages_from_source(str(SILVERSTONE_FP1), settings=settings)
    ingest(source.messages, reducer=SessionReducer(), db=db, publisher=None, settings=settings)
    store_predictions(db, "2024_british_grand_prix_fp1")  # odds for the example session
    # The seasons above are over: one session starting within the hour, for /api/sessions/current.
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    db.collection("sessions").document("2099_next_grand_prix_r").set(
        {"session_id": "2099_next_grand_prix_r", "name": "Race", "code": "r", "start_utc": soon}
    )
    import_races(
        db, [TravelRace(race_id="gbr-2025", name="British GP", circuit="Silverstone", date="2025-07-06")]
    )
    answers().clear()
    yield db
    os.environ.clear()
    os.environ.update(saved)
    get_settings.cache_clear()
    gcp.reset_clients()


# Loaded at collection (the document needs no Firestore); schemathesis's lazy fixture loader does
# not run under this project's pytest.
APP = functions_framework.create_app("api", str(ROOT / "functions" / "main.py"), "http")
install(APP)  # done at import in production; here the module may have been imported for another app
# A cursor is opaque: one the API never issued is a 400, though any string fits its schema.
PAGED = {
    "include-path-regex": "^/api/(meetings|races|circuits|sessions/[^/]+/laps)$",
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404"]}},
}
# Creating a subscription checks more than its schema says (a webhook URL that may receive
# notifications, at most 20 subscriptions a user: 400; known series, a real time zone: 422), and
# each one is a Firestore transaction: fewer, generated cases only for these two.
SUBSCRIBE = {
    "include-path-regex": "^/api/(subscriptions|v1/prediction/subscribe)$",
    "include-method": "POST",
    "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "422"]}},
    "phases": {"coverage": {"enabled": False}},
}
# ``tz`` is an enum of every IANA zone: the coverage phase would try each of the ~600 (minutes);
# generated cases (valid and invalid) still reach these two.
ZONED = {"include-path-regex": "/(schedule|travel-plan)$", "phases": {"coverage": {"enabled": False}}}
CONFIG = SchemathesisConfig.from_dict(
    {"generation": {"mode": "all"}, "operations": [PAGED, SUBSCRIBE, ZONED]}
)
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", APP, config=CONFIG)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_keeps_its_contract(case: Any, seeded: Any) -> None:
    # The WSGI transport does not undo Content-Encoding as an HTTP client does; gzip has its own test.
    auth = {"Authorization": f"Bearer {signed_token('contract-user')}"}
    case.call_and_validate(headers={"Accept-Encoding": "identity", **auth})


def _example_path(template: str, operation: dict[str, Any]) -> str:
    path, query = template, []
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", str(param["example"]))
        elif param.get("required"):
            query.append(f"{param['name']}={param['example']}")
    return path + ("?" + "&".join(query) if query else "")


def test_every_route_is_documented_and_answers_its_example(seeded: Any) -> None:
    from functions.routes import TABLE

    client = APP.test_client()
    document = client.get("/api/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert {(r.method.lower(), r.template) for r in TABLE.routes} == {
        (method, path) for path, ops in document["paths"].items() for method in ops
    }
    auth = {"Authorization": f"Bearer {signed_token('example-user')}"}
    for template, ops in document["paths"].items():
        if "get" not in ops:
            continue
        path = _example_path(template, ops["get"])
        resp = client.get(path, headers=auth if "security" in ops["get"] else {})
        assert resp.status_code == 200, f"{path}: {resp.get_data(as_text=True)[:300]}"


def test_bad_input_is_a_4xx_problem_never_a_500(seeded: Any) -> None:
    client = APP.test_client()
    cases = [
        (client.get("/api/sessions/2099_nowhere_r/laps"), 404),  # unknown id
        (client.get("/api/circuits/atlantis"), 404),
        (client.get("/api/sessions/2024_british_grand_prix_fp1/laps/abc"), 400),  # wrong type
        (client.get("/api/sessions/2024_british_grand_prix_fp1/laps?lap=1&lap=2"), 400),  # given twice
        (client.get("/api/races/2025_british_grand_prix/travel-plan?sessions=r&leave_after_min=-1"), 400),
        (client.get("/api/meetings?season=2025&limit=0"), 400),  # out of range
        (client.get("/api/sessions/a%0Ab/laps"), 404),  # a newline: rejected by Flask's router itself
        (client.post("/api/races", data=b"x" * 70_000, content_type="application/json"), 413),  # too big
        (client.delete("/api/races/2025_british_grand_prix"), 405),
        (client.open("/api/races", method="TRACE"), 405),
    ]
    for resp, status in cases:
        assert resp.status_code == status, resp.get_data(as_text=True)
        assert resp.mimetype == "application/problem+json"
        body = resp.get_json(force=True)
        assert body["status"] == status and body["title"] and body["detail"]
    issues = cases[4][0].get_json(force=True)["errors"]
    assert issues == [
        {"where": "query", "name": "leave_after_min", "message": "must be between 0 and 1440, got '-1'"}
    ]


def test_weekend_weather_comes_from_the_replayed_session(seeded: Any) -> None:
    from shared.stores.session_reads import list_weather

    samples = list_weather(seeded, "2024_british_grand_prix_fp1")
    assert samples
    body = APP.test_client().get("/api/races/gbr-2025/weather").get_json()
    assert (body["meeting_id"], body["circuit_id"], body["years"]) == (
        "2025_british_grand_prix",
        "silverstone",
        [2024],
    )
    (fp1,) = body["sessions"]
    air = [s.air_temp_c for s in samples if s.air_temp_c is not None]
    assert (fp1["code"], fp1["years"]) == ("fp1", [2024])
    assert (fp1["air_temp_c"]["min"], fp1["air_temp_c"]["max"]) == (min(air), max(air))
    assert fp1["rain_share"] == (1.0 if any(s.rainfall for s in samples) else 0.0)
