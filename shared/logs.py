"""Structured logs in Cloud Logging's JSON format (one JSON object per line on stdout).

Every line carries ``severity``, ``message``, ``time`` (UTC, RFC 3339), ``logger`` and
``logging.googleapis.com/sourceLocation``; within a request or an event, also the trace
(``logging.googleapis.com/trace`` as ``projects/<project>/traces/<id>``, ``spanId``,
``trace_sampled``, so Cloud Logging groups the lines under the request) and whatever was bound
for it with :func:`log_context`/:func:`bind` (``session_id``, ``function``, ``event_id``...).
Context lives in a :class:`contextvars.ContextVar`, so concurrent requests on threads do not mix.
Anything passed as ``extra={"json_fields": {...}}`` is merged in last.

Measurements are log lines with structured fields, which log-based metrics
(``infra/monitoring/``, declared in the manifest's ``metrics``) turn into Cloud Monitoring
metrics: :func:`metric` (one value), :func:`count` (one occurrence), :class:`RateMeter` (events per
second over windows). Locally the same lines are readable enough and greppable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"
SAMPLED = "logging.googleapis.com/trace_sampled"
SOURCE = "logging.googleapis.com/sourceLocation"
# Cloud Logging's severities that Python's level names map to (anything else: DEFAULT).
SEVERITIES = frozenset({"DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY"})
RESERVED = frozenset(
    {"severity", "message", "time", "logger", "metric", "value", TRACE, SPAN, SAMPLED, SOURCE}
)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d+))?(?:;o=([01]))?$")

_context: ContextVar[Mapping[str, Any] | None] = ContextVar("pitlane_log_context", default=None)
_providers: list[Callable[[], Mapping[str, Any]]] = []
_state: dict[str, str | None] = {"project": None}


@dataclass(frozen=True)
class Trace:
    """A trace id (32 hex digits), the caller's span id (16 hex digits) and its sampling flag."""

    trace_id: str
    span_id: str | None = None
    sampled: bool = False


def parse_traceparent(value: str | None) -> Trace | None:
    """W3C ``traceparent``: ``00-<trace id>-<span id>-<flags>``."""
    m = _TRACEPARENT.match((value or "").strip().lower())
    if not m or m.group(1) == "0" * 32:
        return None
    return Trace(m.group(1), m.group(2), bool(int(m.group(3), 16) & 1))


def parse_cloud_trace(value: str | None) -> Trace | None:
    """``X-Cloud-Trace-Context``: ``<trace id>/<decimal span id>;o=<0|1>``."""
    m = _CLOUD_TRACE.match((value or "").strip())
    if not m:
        return None
    span = f"{int(m.group(2)):016x}"[-16:] if m.group(2) else None
    return Trace(m.group(1).lower(), span, m.group(3) == "1")


def trace_from_headers(headers: Mapping[str, str]) -> Trace | None:
    """The caller's trace from ``traceparent`` (preferred) or ``X-Cloud-Trace-Context``."""
    lower = {k.lower(): v for k, v in headers.items()}
    return parse_traceparent(lower.get("traceparent")) or parse_cloud_trace(
        lower.get("x-cloud-trace-context")
    )


def new_trace(seed: str | None = None) -> Trace:
    """A fresh trace id; with ``seed`` (an event id), the same id for every delivery of it."""
    if seed is None:
        return Trace(uuid.uuid4().hex)
    return Trace(hashlib.sha256(seed.encode()).hexdigest()[:32])


def current_context() -> dict[str, Any]:
    """Fields bound to every line logged now: context providers, then :func:`log_context`."""
    out: dict[str, Any] = {}
    for provider in _providers:
        out.update(provider())
    out.update(_context.get() or {})
    return out


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` (``trace=Trace(...)``, ``session_id=...``) to the lines logged inside."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` to the current context (until the enclosing :func:`log_context` ends)."""
    _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}})


def add_context_provider(provider: Callable[[], Mapping[str, Any]]) -> None:
    """Call ``provider`` for every line (e.g. the trace of the current HTTP request); once each."""
    if provider not in _providers:
        _providers.append(provider)


class CloudLoggingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        severity = record.levelname if record.levelname in SEVERITIES else "DEFAULT"
        entry: dict[str, Any] = {
            "severity": severity,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "logger": record.name,
            SOURCE: {"file": record.pathname, "line": str(record.lineno), "function": record.funcName},
        }
        context = current_context()
        trace = context.pop("trace", None)
        if isinstance(trace, Trace):
            project = _state["project"]
            entry[TRACE] = f"projects/{project}/traces/{trace.trace_id}" if project else trace.trace_id
            if trace.span_id:
                entry[SPAN] = trace.span_id
            entry[SAMPLED] = trace.sampled
        entry.update(context)
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", *, project: str | None = None) -> None:
    """Route the root logger (and Python warnings) to stdout as Cloud Logging JSON; ``project``
    makes trace ids full resource names. Safe to call more than once."""
    if project:
        _state["project"] = project
    root = logging.getLogger()
    if any(isinstance(h.formatter, CloudLoggingFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(CloudLoggingFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a JSON line too, not stray stderr text


# --- measurements --------------------------------------------------------------------------------

_metrics_log = logging.getLogger("pitlane.metrics")


def metric(name: str, value: float, **labels: str | int | float | bool | None) -> None:
    """Log one measurement: ``{"metric": name, "value": value, <labels>}`` (a distribution in
    Cloud Monitoring when the manifest declares ``name``; units in the name: ``_s``, ``_ms``)."""
    _emit(name, value, labels)


def count(name: str, **labels: str | int | float | bool | None) -> None:
    """Log one occurrence of ``name`` (a counter metric counts the lines: call once per event)."""
    _emit(name, 1, labels)


def _emit(name: str, value: float, labels: Mapping[str, Any], stacklevel: int = 3) -> None:
    clash = RESERVED & set(labels)
    if clash:
        raise ValueError(f"metric {name}: reserved label names {sorted(clash)}")
    shown = round(value, 3) if isinstance(value, float) else value
    fields = {"metric": name, "value": shown, **labels}
    # stacklevel: the source location is the code that measured, not this module.
    _metrics_log.info("%s=%s", name, shown, extra={"json_fields": fields}, stacklevel=stacklevel)


class RateMeter:
    """Counts events (``add``) and logs ``name`` as events per second once ``every_s`` has passed
    since the window's first event (at the next ``add``), or at ``flush``. One per process."""

    def __init__(
        self, name: str, *, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic, **labels: Any
    ) -> None:
        self.name, self.every_s, self.clock, self.labels = name, every_s, clock, labels
        self._lock = threading.Lock()
        self._start: float | None = None
        self._events = 0

    def add(self, n: int = 1) -> None:
        if n <= 0:
            return
        with self._lock:
            now = self.clock()
            if self._start is None:
                self._start = now
            self._events += n
            due = now - self._start >= self.every_s
        if due:
            self._flush()

    def flush(self) -> None:
        """Log the window so far (if it counted anything) and start a new one."""
        self._flush()

    def _flush(self, stacklevel: int = 4) -> None:
        with self._lock:
            start, events = self._start, self._events
            self._start, self._events = None, 0
        if start is not None and events:
            elapsed = max(self.clock() - start, 1.0)  # a burst within a second counts as one second
            labels = {"events": events, "window_s": round(elapsed, 3), **self.labels}
            _emit(self.name, events / elapsed, labels, stacklevel=stacklevel)
