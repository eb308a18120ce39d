"""What every entry point shares: settings, lazily built clients, event decoding, error policy.

Error policy for event functions: a ``PermanentError`` (bad payload, unknown id) is logged, counted
and acknowledged, since redelivery cannot fix it; anything else propagates, so Pub/Sub (with
retries enabled in the manifest) or Cloud Tasks delivers the event again.

Log context: every line logged while an HTTP request is served carries its trace (from
``traceparent`` or ``X-Cloud-Trace-Context``, else a new one per request); an event's lines carry
the CloudEvent's ``traceparent`` (else a trace derived from the event id, the same for every
redelivery), the event id, the function and the message's ``session_id`` attribute; a Cloud Tasks
target's lines carry the function, the task name and, once the body is read, its ``session_id``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import flask
import httpx
from cloudevents.http import CloudEvent
from google.cloud import firestore
from google.cloud.pubsub_v1 import PublisherClient
from pydantic import BaseModel, ValidationError

from shared.config import Settings, get_settings
from shared.errors import BadRequestError, PermanentError, TransientError
from shared.gcp import firestore_client, publisher_client
from shared.logs import (
    Trace,
    add_context_provider,
    bind,
    configure_logging,
    log_context,
    new_trace,
    parse_traceparent,
    trace_from_headers,
)
from shared.sources.http import make_http_client

log = logging.getLogger("pitlane.functions")
P = TypeVar("P", bound=BaseModel)


def settings() -> Settings:
    s = get_settings()
    configure_logging(s.log_level, project=s.project)
    add_context_provider(_request_context)
    return s


def _request_context() -> dict[str, Any]:
    """The trace of the HTTP request being served (one per request when the caller sent none)."""
    if not flask.has_request_context():
        return {}
    trace = flask.g.get("pitlane_trace")
    if trace is None:
        trace = trace_from_headers(dict(flask.request.headers)) or new_trace()
        flask.g.pitlane_trace = trace
    return {"trace": trace}


def db() -> firestore.Client:
    return firestore_client(settings())


@functools.lru_cache(maxsize=1)
def http() -> httpx.Client:
    """One pooled HTTP client per instance, built on first use."""
    return make_http_client(settings())


def publisher() -> PublisherClient:
    return publisher_client(settings())


def problem(status: int, title: str, detail: str) -> flask.Response:
    """An RFC 9457 problem response (``application/problem+json``)."""
    resp = flask.jsonify({"type": "about:blank", "title": title, "status": status, "detail": detail})
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def task_permanent_error(request: flask.Request, detail: str, *, function: str) -> flask.Response:
    """A permanent failure of an HTTP function that Cloud Tasks calls.

    Cloud Tasks retries anything but 2xx, and retrying cannot fix a bad request: a delivery from
    Cloud Tasks (``X-CloudTasks-*`` headers) is acknowledged with 200 ``dropped`` and logged; a
    direct caller gets 400 problem JSON.
    """
    log.error(
        "%s: bad request: %s", function, detail, extra={"json_fields": {"function": function, "dropped": 1}}
    )
    if any(h.lower().startswith("x-cloudtasks-") for h, _ in request.headers.items()):
        return flask.jsonify({"status": "dropped", "detail": detail})
    return problem(400, "Bad Request", detail)


def run_task(
    request: flask.Request, *, function: str, model: type[P], run: Callable[[P], BaseModel]
) -> flask.Response:
    """The shape of every Cloud Tasks HTTP target: POST a ``model`` as JSON, ``run`` it, answer
    200 with its result; a bad body or a permanent error is :func:`task_permanent_error`; a
    transient one answers 503 so Cloud Tasks retries."""
    task = request.headers.get("X-CloudTasks-TaskName")
    with log_context(function=function, task=task):
        return _run_task(request, function=function, model=model, run=run)


def _run_task(
    request: flask.Request, *, function: str, model: type[P], run: Callable[[P], BaseModel]
) -> flask.Response:
    if request.method != "POST":
        return problem(405, "Method Not Allowed", f"POST a {model.__name__} as JSON")
    try:
        req = model.model_validate_json(request.get_data() or b"{}")
    except ValidationError as exc:
        detail = str(exc).splitlines()[0] + ": " + str(exc.errors()[0]["msg"])
        return task_permanent_error(request, detail, function=function)
    bind(session_id=getattr(req, "session_id", None))
    try:
        result = run(req)
    except PermanentError as exc:
        return task_permanent_error(request, str(exc), function=function)
    except TransientError as exc:
        log.warning("%s: transient failure, Cloud Tasks retries: %s", function, exc)
        return problem(503, "Service Unavailable", str(exc))
    return flask.jsonify(result.model_dump(mode="json"))


def pubsub_payload(event: CloudEvent, model: type[P]) -> P:
    """The JSON body of a Pub/Sub CloudEvent, validated as ``model``; ``BadRequestError`` if not."""
    data: Any = event.get_data()
    try:
        message = data["message"]
        raw = base64.b64decode(message.get("data") or b"", validate=True) if message.get("data") else b"{}"
        return model.model_validate(json.loads(raw))
    except (KeyError, TypeError, binascii.Error, json.JSONDecodeError, ValidationError) as exc:
        raise BadRequestError(f"bad Pub/Sub payload: {exc}".splitlines()[0]) from None


F = TypeVar("F", bound=Callable[..., Any])


def event_function(fn: F) -> F:
    """Acknowledge permanent failures (logged with the event id), let transient ones retry."""

    @functools.wraps(fn)
    def wrapper(event: CloudEvent) -> Any:
        settings()
        with log_context(
            trace=_event_trace(event),
            function=fn.__name__,
            event_id=event["id"],
            session_id=_session_of(event),
        ):
            return _call(fn, event)

    return wrapper  # type: ignore[return-value]


def _event_trace(event: CloudEvent) -> Trace:
    return parse_traceparent(event.get("traceparent")) or new_trace(seed=str(event["id"]))


def _session_of(event: CloudEvent) -> str | None:
    """The ``session_id`` attribute of a Pub/Sub message (race events carry one)."""
    data: Any = event.get_data()
    try:
        value = data["message"]["attributes"]["session_id"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _call(fn: Callable[[CloudEvent], Any], event: CloudEvent) -> Any:
    try:
        return fn(event)
    except PermanentError as exc:
        log.error(
            "event dropped: %s",
            exc,
            extra={"json_fields": {"event_id": event["id"], "function": fn.__name__, "dropped": 1}},
        )
        return None
