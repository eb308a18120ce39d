"""The upstream server over HTTP: OpenF1 queries, Jolpica files, static routes, faults, request log.

Expected results are computed here from the recorded JSON files, independently of the server.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.upstream import cli as upstream_cli
from infra.upstream.app import create_app
from shared.config import load_settings
from shared.errors import ConfigError
from tests.integration.upstream_fixture import Upstream, running_upstream

pytestmark = pytest.mark.integration

AZERBAIJAN_2018_RACE = "2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"


@pytest.fixture(scope="module")
def data_dir() -> Path:
    return load_settings().require_data_dir


@pytest.fixture(scope="module")
def upstream(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    log_path = tmp_path_factory.mktemp("upstream") / "requests.jsonl"
    with running_upstream(data_dir=data_dir, log_path=log_path) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(upstream: Upstream) -> None:
    upstream.reset()


@pytest.fixture(scope="module")
def laps(data_dir: Path) -> list[dict[str, Any]]:
    return list(json.loads((data_dir / "openf1" / "2024_singapore" / "laps.json").read_text()))


def _get(upstream: Upstream, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(upstream.url + path, timeout=10, **kwargs)


def _lap_keys(records: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return sorted((r["driver_number"], r["lap_number"]) for r in records)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- OpenF1 ---------------------------------------------------------------------------------------


def test_openf1_acceptance_laps_from_lap_10(upstream: Upstream, laps: list[dict[str, Any]]) -> None:
    resp = _get(upstream, "/v1/laps?session_key=9606&driver_number=1&lap_number>=10")
    expected = [
        r for r in laps if r["session_key"] == 9606 and r["driver_number"] == 1 and r["lap_number"] >= 10
    ]
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    got = resp.json()
    assert len(expected) > 40
    assert sorted(got, key=lambda r: r["lap_number"]) == sorted(expected, key=lambda r: r["lap_number"])


def test_openf1_less_than(upstream: Upstream, laps: list[dict[str, Any]]) -> None:
    got = _get(upstream, "/v1/laps?session_key=9606&driver_number=1&lap_number<5").json()
    expected = [r for r in laps if r["driver_number"] == 1 and r["lap_number"] < 5]
    # The recording has no lap 1 for this driver (OpenF1 often lacks it): laps 2-4.
    assert _lap_keys(got) == _lap_keys(expected) == [(1, 2), (1, 3), (1, 4)]


def test_openf1_or_of_two_drivers(upstream: Upstream, laps: list[dict[str, Any]]) -> None:
    got = _get(upstream, "/v1/laps?session_key=9606&driver_number=1&driver_number=4&lap_number<=3").json()
    expected = [r for r in laps if r["driver_number"] in (1, 4) and r["lap_number"] <= 3]
    assert _lap_keys(got) == _lap_keys(expected)
    assert {r["driver_number"] for r in got} == {1, 4}


def test_openf1_date_range(upstream: Upstream, laps: list[dict[str, Any]]) -> None:
    lo, hi = _utc("2024-09-22T13:00:00+00:00"), _utc("2024-09-22T13:05:00+00:00")
    # The upper bound is given in Singapore time (UTC+8), "+" percent-encoded.
    got = _get(
        upstream, "/v1/laps?date_start>=2024-09-22T13:00:00Z&date_start<2024-09-22T21:05:00%2B08:00"
    ).json()
    expected = [r for r in laps if r["date_start"] and lo <= _utc(r["date_start"]) < hi]
    assert len(expected) > 20
    assert _lap_keys(got) == _lap_keys(expected)
    starts = [r["date_start"] for r in got]
    assert starts == sorted(starts)


def test_openf1_date_only_means_whole_day(upstream: Upstream, data_dir: Path) -> None:
    sessions = json.loads((data_dir / "openf1" / "2024_singapore" / "sessions.json").read_text())
    got = _get(upstream, "/v1/sessions?date_start>=2024-09-21").json()
    expected = [s["session_key"] for s in sessions if s["date_start"][:10] >= "2024-09-21"]
    assert sorted(s["session_key"] for s in got) == sorted(expected)
    assert 0 < len(expected) < len(sessions)


def test_openf1_csv(upstream: Upstream, laps: list[dict[str, Any]]) -> None:
    resp = _get(upstream, "/v1/laps?session_key=9606&driver_number=1&lap_number>=10&csv=true")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    expected = [r for r in laps if r["driver_number"] == 1 and r["lap_number"] >= 10]
    assert resp.text.splitlines()[0].split(",") == sorted(expected[0])
    assert sorted(int(row["lap_number"]) for row in rows) == sorted(r["lap_number"] for r in expected)


def test_openf1_latest_session(upstream: Upstream) -> None:
    got = _get(upstream, "/v1/sessions?session_key=latest").json()
    assert [s["session_key"] for s in got] == [9606]
    drivers = _get(upstream, "/v1/drivers?session_key=latest&driver_number=1").json()
    assert [d["driver_number"] for d in drivers] == [1]


def test_openf1_no_result_and_unknown_endpoint(upstream: Upstream) -> None:
    empty = _get(upstream, "/v1/laps?session_key=9606&lap_number>100")
    assert (empty.status_code, empty.json()) == (404, {"detail": "No results found."})
    unknown = _get(upstream, "/v1/teleportation?session_key=9606")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/json")
    bad = _get(upstream, "/v1/laps?session_key")
    assert bad.status_code == 400


# --- Jolpica, archive, schedule, MultiViewer ----------------------------------------------------


def test_jolpica_query_string_maps_to_double_underscore_file(upstream: Upstream, data_dir: Path) -> None:
    root = data_dir / "jolpica" / "ergast" / "f1"
    resp = _get(upstream, "/ergast/f1/seasons.json?limit=3")
    assert resp.status_code == 200
    assert resp.content == (root / "seasons.json__limit-3").read_bytes()
    assert resp.json()["MRData"]["limit"] == "3"
    laps = _get(upstream, "/jolpica/ergast/f1/2023/1/laps.json?limit=1200")
    assert laps.content == (root / "2023" / "1" / "laps.json__limit-1200").read_bytes()
    plain = _get(upstream, "/ergast/f1/2018/4/results/")
    assert plain.content == (root / "2018" / "4" / "results.json").read_bytes()


def test_jolpica_unknown_is_404(upstream: Upstream) -> None:
    assert _get(upstream, "/ergast/f1/seasons.json?limit=4").status_code == 404
    assert _get(upstream, "/ergast/f1/seasons.json").status_code == 404
    assert _get(upstream, "/ergast/f1/1800/results.json").status_code == 404


def test_static_archive_both_layouts(upstream: Upstream, data_dir: Path) -> None:
    path = f"{AZERBAIJAN_2018_RACE}/TimingData.jsonStream"
    expected = (data_dir / "livetiming" / "static" / path).read_bytes()
    assert _get(upstream, f"/static/{path}").content == expected
    assert _get(upstream, f"/livetiming/static/{path}").content == expected
    assert _get(upstream, f"/static/{AZERBAIJAN_2018_RACE}/CarData.z.jsonStream").status_code == 404


def test_paths_cannot_escape_the_data_dir(upstream: Upstream) -> None:
    with httpx.Client(base_url=upstream.url) as client:
        req = client.build_request("GET", "/static/2018/../../../../README.md")
        req.url = req.url.copy_with(raw_path=b"/static/2018/../../../../README.md")
        assert client.send(req).status_code == 404


def test_schedule_and_circuit_info(upstream: Upstream, data_dir: Path) -> None:
    schedule = _get(upstream, "/f1schedule/schedule_2018.json")
    assert schedule.content == (data_dir / "f1schedule" / "schedule_2018.json").read_bytes()
    circuit = _get(upstream, "/api/v1/circuits/39/2020")
    assert circuit.json() == json.loads(
        (data_dir / "multiviewer" / "circuits" / "39" / "2020.json").read_text()
    )
    assert _get(upstream, "/api/v1/circuits/144/2018").status_code == 404


# --- faults ----------------------------------------------------------------------------------------


def test_rate_limit_with_retry_after_expires_after_times(upstream: Upstream) -> None:
    upstream.add_fault(path_prefix="/v1/meetings", kind="rate_limit", retry_after=7, times=2)
    first, second, third = (_get(upstream, "/v1/meetings") for _ in range(3))
    assert (first.status_code, first.headers["retry-after"]) == (429, "7")
    assert second.status_code == 429
    assert third.status_code == 200
    assert httpx.get(f"{upstream.url}/_upstream/faults").json() == []


def test_status_fault_every_second_request(upstream: Upstream) -> None:
    rule = upstream.add_fault(path_regex=r"^/v1/(meetings|sessions)$", kind="status", status=503, every=2)
    assert rule[0]["id"] >= 1 and rule[0]["remaining"] is None
    codes = [_get(upstream, "/v1/sessions").status_code for _ in range(4)]
    assert codes == [200, 503, 200, 503]
    assert _get(upstream, "/v1/drivers").status_code == 200
    listed = httpx.get(f"{upstream.url}/_upstream/faults").json()
    assert [(r["seen"], r["applied"]) for r in listed] == [(4, 2)]


def test_slow_fault_delays_the_answer(upstream: Upstream) -> None:
    upstream.add_fault(path_prefix="/f1schedule/", kind="slow", delay=0.6, times=1)
    t0 = time.monotonic()
    slow = _get(upstream, "/f1schedule/schedule_2024.json")
    slow_s = time.monotonic() - t0
    t0 = time.monotonic()
    _get(upstream, "/f1schedule/schedule_2024.json")
    fast_s = time.monotonic() - t0
    assert slow.status_code == 200 and slow.json()
    assert slow_s >= 0.6 > fast_s
    with pytest.raises(httpx.ReadTimeout):
        upstream.add_fault(path_prefix="/f1schedule/", kind="slow", delay=2, times=1)
        httpx.get(f"{upstream.url}/f1schedule/schedule_2024.json", timeout=0.3)
    # The server still finishes (and logs) the abandoned request 2 s later: wait for it, so the
    # next test's request log starts empty.
    deadline = time.monotonic() + 10
    while len(upstream.requests()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(upstream.requests()) == 3


def test_drop_closes_the_connection_mid_body(upstream: Upstream) -> None:
    upstream.add_fault(path_prefix="/static/", kind="drop", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        _get(upstream, f"/static/{AZERBAIJAN_2018_RACE}/TimingData.jsonStream")
    assert _get(upstream, f"/static/{AZERBAIJAN_2018_RACE}/TimingData.jsonStream").status_code == 200
    log = upstream.requests()
    assert [(e["fault"], e["status"]) for e in log] == [("drop", 200), (None, 200)]


def test_invalid_fault_rule_is_422(upstream: Upstream) -> None:
    for rule in (
        {"kind": "status"},
        {"path_prefix": "/v1", "kind": "explode"},
        {"path_regex": "(", "kind": "drop"},
    ):
        assert httpx.post(f"{upstream.url}/_upstream/faults", json=rule).status_code == 422
    assert httpx.get(f"{upstream.url}/_upstream/faults").json() == []


def test_faults_given_at_start_up(data_dir: Path) -> None:
    rules = upstream_cli._faults(['{"path_prefix": "/v1/", "kind": "status", "status": 502, "times": 1}'])
    with running_upstream(data_dir=data_dir, faults=rules) as server:
        assert _get(server, "/v1/meetings").status_code == 502
        assert _get(server, "/v1/meetings").status_code == 200


# --- live feed replay mounted in the same server -------------------------------------------------


def test_live_replay_routes_are_mounted_logged_and_faultable(data_dir: Path) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with running_upstream(
        data_dir=data_dir, replay_source="livefeed/2024_silverstone_fp1", speed=0
    ) as server:
        negotiate = httpx.post(f"{server.url}/signalrcore/negotiate")
        assert negotiate.status_code == 200 and negotiate.json()["connectionToken"]
        status = httpx.get(f"{server.url}/_upstream/replay").json()
        assert status["source"] == "livefeed/2024_silverstone_fp1"
        server.add_fault(path_prefix="/signalrcore", kind="status", status=503, times=2)
        assert httpx.post(f"{server.url}/signalrcore/negotiate").status_code == 503
        with pytest.raises(InvalidStatus), connect(f"ws://127.0.0.1:{server.port}/signalrcore?id=x"):
            pass
        log = server.requests()
        assert [(e["method"], e["path"], e["status"], e["fault"]) for e in log] == [
            ("POST", "/signalrcore/negotiate", 200, None),
            ("POST", "/signalrcore/negotiate", 503, "status"),
            ("WS", "/signalrcore", 403, "status"),
        ]


def test_unknown_replay_source_is_a_config_error(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="cannot replay 'livefeed/nowhere'"):
        create_app(data_dir=data_dir, replay_source="livefeed/nowhere")


# --- request log and CLI -----------------------------------------------------------------------------


def test_request_log_counts_calls_and_skips_control(upstream: Upstream) -> None:
    assert upstream.log_path is not None
    lines_before = len(upstream.log_path.read_text().splitlines())
    upstream.add_fault(path_prefix="/v1/pit", kind="status", status=500, times=1)
    _get(upstream, "/v1/pit?session_key=9606")
    _get(upstream, "/v1/pit?session_key=9606&driver_number=1")
    _get(upstream, "/ergast/f1/nothing.json")
    httpx.get(f"{upstream.url}/_upstream/health")
    log = upstream.requests()
    assert [(e["method"], e["path"], e["status"], e["fault"]) for e in log] == [
        ("GET", "/v1/pit", 500, "status"),
        ("GET", "/v1/pit", 200, None),
        ("GET", "/ergast/f1/nothing.json", 404, None),
    ]
    assert log[1]["query"] == "session_key=9606&driver_number=1"
    assert log[0]["seq"] < log[1]["seq"] < log[2]["seq"]
    assert {"seq", "ts", "method", "path", "query", "status", "fault"} <= set(log[0])
    written = [json.loads(line) for line in upstream.log_path.read_text().splitlines()[lines_before:]]
    assert [e["seq"] for e in written] == [e["seq"] for e in log]
    httpx.delete(f"{upstream.url}/_upstream/requests")
    assert upstream.requests() == []


def _cli_args(**overrides: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    upstream_cli.register(parser.add_subparsers())
    args = parser.parse_args(["upstream"])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def test_cli_port_in_use_is_a_one_line_config_error(upstream: Upstream) -> None:
    with pytest.raises(ConfigError, match=f"port {upstream.port} .* already in use") as err:
        upstream_cli.run(_cli_args(port=upstream.port))
    assert "\n" not in str(err.value)


def test_cli_missing_data_dir_is_a_one_line_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-data"
    with pytest.raises(ConfigError, match="does not exist") as err:
        upstream_cli.run(_cli_args(data_dir=missing))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)


def test_cli_bad_fault_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid --fault"):
        upstream_cli.run(_cli_args(fault=['{"kind": "status"}']))
