"""shared.logs: Cloud Logging JSON lines, trace and session context, measurements; the context the
entry points bind (functions/_runtime.py) for Cloud Tasks requests and Pub/Sub events."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import flask
import pytest
from cloudevents.http import CloudEvent
from pydantic import BaseModel

from functions import _runtime
from shared import logs
from shared.errors import BadRequestError
from shared.logs import (
    SAMPLED,
    SOURCE,
    SPAN,
    TRACE,
    CloudLoggingFormatter,
    RateMeter,
    Trace,
    bind,
    count,
    log_context,
    metric,
    new_trace,
    parse_cloud_trace,
    parse_traceparent,
    trace_from_headers,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """``lines()``: every line logged so far (root logger, INFO and up), parsed as JSON."""
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(CloudLoggingFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    monkeypatch.setitem(logs._state, "project", "proj-1")
    try:
        yield lambda: [json.loads(line) for line in buf.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_trace_headers_parse_both_formats() -> None:
    assert parse_traceparent(f"00-{TRACE_ID}-00f067aa0ba902b7-01") == Trace(
        TRACE_ID, "00f067aa0ba902b7", True
    )
    assert parse_traceparent(f"00-{'0' * 32}-00f067aa0ba902b7-01") is None  # all-zero id is invalid
    assert parse_traceparent("garbage") is None
    cloud = parse_cloud_trace(f"{TRACE_ID.upper()}/12345;o=1")
    assert cloud == Trace(TRACE_ID, f"{12345:016x}", True)
    assert parse_cloud_trace(TRACE_ID) == Trace(TRACE_ID, None, False)
    headers = {"X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=0"}
    assert trace_from_headers(headers) == Trace(TRACE_ID, f"{1:016x}", False)
    other = "a" * 32
    both = headers | {"Traceparent": f"00-{other}-00f067aa0ba902b7-00"}
    assert trace_from_headers(both) == Trace(other, "00f067aa0ba902b7", False)  # W3C wins
    assert new_trace("event-7") == new_trace("event-7") != new_trace("event-8")
    assert len(new_trace().trace_id) == 32


def test_a_line_has_cloud_loggings_fields_and_the_bound_context(
    lines: Callable[[], list[dict[str, Any]]],
) -> None:
    log = logging.getLogger("pitlane.test")
    with log_context(trace=Trace(TRACE_ID, "00f067aa0ba902b7", True), session_id="2018_baku_r", function="f"):
        log.info("lap %d", 12, extra={"json_fields": {"laps": 3}})
        bind(event_id="e1")
        log.warning("late")
    log.error("outside")
    inside, late, outside = lines()
    assert (
        inside["severity"] == "INFO" and inside["message"] == "lap 12" and inside["logger"] == "pitlane.test"
    )
    assert inside[TRACE] == f"projects/proj-1/traces/{TRACE_ID}"
    assert inside[SPAN] == "00f067aa0ba902b7" and inside[SAMPLED] is True
    assert inside["session_id"] == "2018_baku_r" and inside["function"] == "f" and inside["laps"] == 3
    assert inside[SOURCE]["function"] == "test_a_line_has_cloud_loggings_fields_and_the_bound_context"
    assert inside["time"].endswith("Z")
    assert late["severity"] == "WARNING" and late["event_id"] == "e1"
    assert outside["severity"] == "ERROR" and TRACE not in outside and "session_id" not in outside


def test_contexts_of_concurrent_threads_do_not_mix(lines: Callable[[], list[dict[str, Any]]]) -> None:
    log = logging.getLogger("pitlane.test")
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        with log_context(session_id=f"s{n}", trace=new_trace(f"t{n}")):
            barrier.wait()
            log.info("run %d", n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted((ln["message"], ln["session_id"]) for ln in lines()) == [
        (f"run {n}", f"s{n}") for n in range(4)
    ]
    assert all(ln[TRACE].endswith(new_trace(ln["session_id"].replace("s", "t")).trace_id) for ln in lines())


def test_metric_count_and_rate_are_structured_fields(lines: Callable[[], list[dict[str, Any]]]) -> None:
    metric("ingest_lag_s", 1.23456, feed="live")
    count("notifications_failed", channel="slack")
    now = [100.0]
    meter = RateMeter("firestore_writes_per_s", every_s=10.0, clock=lambda: now[0])
    meter.add(40)
    now[0] = 105.0
    meter.add(40)  # window not over: nothing logged yet
    now[0] = 120.0
    meter.add(20)  # 100 documents in 20 s
    meter.flush()  # nothing left
    meter.add(3)
    now[0] = 120.5
    meter.flush()  # a burst shorter than a second counts as one second
    lag, failed, rate, burst = lines()
    assert (lag["metric"], lag["value"], lag["feed"]) == ("ingest_lag_s", 1.235, "live")
    assert (failed["metric"], failed["value"], failed["channel"]) == ("notifications_failed", 1, "slack")
    assert (rate["metric"], rate["value"], rate["events"], rate["window_s"]) == (
        "firestore_writes_per_s",
        5.0,
        100,
        20.0,
    )
    assert (burst["value"], burst["events"]) == (3.0, 3)
    with pytest.raises(ValueError, match="reserved"):
        metric("x", 1, severity="bad")


def test_configure_logging_writes_json_to_stdout_and_captures_warnings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.setitem(logs._state, "project", None)
    # an earlier test's configure_logging ran inside pytest's own warnings capture, which has put
    # back warnings.showwarning since: reset logging's record of it so capture starts afresh
    logging.captureWarnings(False)
    logs.configure_logging("INFO", project="proj-2")
    logs.configure_logging("INFO", project="proj-2")  # idempotent
    assert len(root.handlers) == 1
    try:
        with log_context(trace=Trace(TRACE_ID)):
            logging.getLogger("x").info("hello")
            warnings.warn("deprecated thing", UserWarning, stacklevel=1)
    finally:
        logging.captureWarnings(False)
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert out[0]["message"] == "hello"
    assert "deprecated thing" in out[1]["message"] and out[1]["severity"] == "WARNING"
    assert all(o[TRACE] == f"projects/proj-2/traces/{TRACE_ID}" for o in out)


class _Body(BaseModel):
    session_id: str | None = None
    fail: bool = False


def test_a_cloud_tasks_request_logs_its_trace_task_and_session(
    lines: Callable[[], list[dict[str, Any]]],
) -> None:
    logs.add_context_provider(_runtime._request_context)  # as _runtime.settings() does
    app = flask.Flask("t")
    log = logging.getLogger("pitlane.test")

    def run(body: _Body) -> BaseModel:
        log.info("recording")
        if body.fail:
            raise BadRequestError("no such source")
        return body

    headers = {"X-Cloud-Trace-Context": f"{TRACE_ID}/7;o=1", "X-CloudTasks-TaskName": "record-x-0"}
    for body in ({"session_id": "2018_baku_r"}, {"session_id": "2018_baku_r", "fail": True}):
        with app.test_request_context("/", method="POST", json=body, headers=headers):
            _runtime.run_task(flask.request, function="record_live_timing", model=_Body, run=run)
    with app.test_request_context("/", method="POST", data=b"{bad", headers={}):
        _runtime.run_task(flask.request, function="record_live_timing", model=_Body, run=run)
    ok, failing, dropped, bad_body = lines()
    for line in (ok, failing, dropped):
        assert line[TRACE] == f"projects/proj-1/traces/{TRACE_ID}" and line[SAMPLED] is True
        assert line["session_id"] == "2018_baku_r" and line["task"] == "record-x-0"
        assert line["function"] == "record_live_timing"
    assert dropped["severity"] == "ERROR" and dropped["dropped"] == 1
    # A caller without a trace header still gets one trace for its request; no session is known.
    assert len(bad_body[TRACE].rsplit("/", 1)[1]) == 32 and "session_id" not in bad_body


def test_an_event_logs_its_trace_id_and_session(
    lines: Callable[[], list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_runtime, "settings", lambda: None)
    log = logging.getLogger("pitlane.test")

    @_runtime.event_function
    def on_event(event: CloudEvent) -> None:
        log.info("event handled")
        raise BadRequestError("unknown kind")

    data = {
        "message": {"data": base64.b64encode(b"{}").decode(), "attributes": {"session_id": "2018_baku_r"}}
    }
    attrs = {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub", "id": "m-42"}
    on_event(CloudEvent(attrs, data))
    on_event(CloudEvent(attrs | {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"}, {"message": {}}))
    handled, dropped, traced, _ = lines()
    assert handled[TRACE] == f"projects/proj-1/traces/{new_trace('m-42').trace_id}"  # same on redelivery
    assert handled["session_id"] == "2018_baku_r" and handled["event_id"] == "m-42"
    assert handled["function"] == "on_event"
    assert dropped["severity"] == "ERROR" and dropped[TRACE] == handled[TRACE]
    assert traced[TRACE].endswith(TRACE_ID) and "session_id" not in traced


def test_a_measurement_points_at_the_code_that_measured(lines: Callable[[], list[dict[str, Any]]]) -> None:
    metric("quota_left", 3, host="jolpica")
    meter = RateMeter("firestore_writes_per_s", every_s=0.0)
    meter.add(2)  # the window is over at once
    meter.add(1)
    meter.flush()
    here = "test_a_measurement_points_at_the_code_that_measured"
    assert [ln[SOURCE]["function"] for ln in lines()] == [here, here, here]
