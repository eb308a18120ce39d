"""Emulator processes and helpers for the integration and function tests.

The Firestore, Pub/Sub and Cloud Tasks emulators are real processes started by
``infra.local.emulators``; tests talk to them over the network. They are session-wide and started
lazily: :func:`tests.conftest.pytest_collection_finish` looks at the selected tests and starts the
emulators they need in parallel in the background (so ``pytest tests/unit`` starts nothing), and
the fixtures wait for them. Everything started is stopped at session end, also on failure or ^C.

Emulator quirks (checked by ``tests/integration/test_emulators.py``):

Firestore emulator
    * ``DELETE /emulator/v1/projects/{p}/databases/(default)/documents`` wipes one project's data;
      it is how tests start from an empty database.
    * The rules given with ``--rules`` apply to every request that does not carry
      ``Authorization: Bearer owner``; the Python server client sends that header (it uses
      anonymous credentials against the emulator), so like admin credentials in production it
      bypasses the rules. Client requests carry an *unsigned* Firebase ID token (``alg: none``),
      which the emulator accepts as is (see :func:`id_token`).

Pub/Sub emulator
    * Push subscriptions POST the raw wrapped body ``{"message": {...}, "subscription": ...}`` (not
      a CloudEvent); see ``tests/function/test_pubsub_push.py`` for what functions-framework makes
      of it. The message carries both ``messageId``/``message_id`` and
      ``publishTime``/``publish_time`` but no ``orderingKey``, even when one was published.
    * Message ids are a per-process counter ("1", "2", ...): unique within one emulator run only.
    * A push answered with a non-2xx status is redelivered within about a second.

gcloud-tasks-emulator 0.6.2 (google-cloud-tasks 2.26 talks to it over an insecure gRPC channel)
    * Queue and task names are not validated: any string is a queue name, and the queue must be
      created first (``create_task`` on an unknown queue gives FAILED_PRECONDITION). Location is
      whatever the path says; ``queue_path(settings, ...)`` works as is.
    * Task names are NOT de-duplicated: creating a task twice with the same explicit name queues
      (and dispatches) it twice, where Cloud Tasks answers ALREADY_EXISTS. Idempotency must not
      rely on task-name dedup when tested locally.
    * ``GetTask`` and ``DeleteTask`` are not implemented (UNIMPLEMENTED); ``ListTasks``,
      ``RunTask``, queue create/get/list/pause/resume/purge/delete are.
    * Queue settings (rate limits, retry config) are stored but ignored: tasks are dispatched
      one at a time per queue, as fast as the target answers, with no HTTP timeout.
    * A 4xx/5xx answer re-queues the task at the back with no back-off, forever by default
      (``--max-retries`` bounds it).
    * ``oidc_token`` is ignored (no ``Authorization`` header is sent); ``X-CloudTasks-QueueName``
      (full queue path), ``X-CloudTasks-TaskName`` (last path segment),
      ``X-CloudTasks-TaskRetryCount`` and ``X-CloudTasks-TaskExecutionCount`` are sent, spelt
      ``X-cloudtasks-queuename`` etc. (urllib capitalisation): look headers up case-insensitively.
    * It listens on ``[::]`` (all interfaces) whatever ``--host`` would say.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from infra.local import emulators
from infra.local.emulators import Managed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RULES_PATH = PROJECT_ROOT / "firestore.rules"
LOG_DIR = PROJECT_ROOT / ".pitlane" / "test-logs"

# The project every integration test uses. Ids that look like a live project are refused.
TEST_PROJECT = "pitlane-test"
_SAFE_PROJECT = re.compile(r"^(demo-[a-z0-9-]+|[a-z0-9-]+-test)$")
_LOCAL_HOST = re.compile(r"^127\.0\.0\.1:\d+$")

# Fixture name -> emulator it needs (the fixtures live in tests/conftest.py).
FIXTURE_EMULATOR = {
    "firestore_emulator": "firestore",
    "pubsub_emulator": "pubsub",
    "tasks_emulator": "tasks",
}
START_TIMEOUT_S = 60.0


class UnsafeTestTargetError(RuntimeError):
    """Integration tests were about to talk to something that is not a local emulator."""


def check_safe_target(environ: Mapping[str, str], *, needs: tuple[str, ...] = ()) -> None:
    """Refuse to go on unless the project is a test/demo id and every emulator host is local.

    ``needs`` names environment variables that must be set (the emulator a fixture relies on);
    an unset one would send the client to the live service.
    """
    project = environ.get("GOOGLE_CLOUD_PROJECT", "")
    if not _SAFE_PROJECT.match(project):
        raise UnsafeTestTargetError(f"GOOGLE_CLOUD_PROJECT={project!r} is not a test or demo project id")
    for name in ("FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "PITLANE_TASKS_EMULATOR_HOST"):
        value = environ.get(name)
        if value is None:
            if name in needs:
                raise UnsafeTestTargetError(f"{name} is not set: the client would talk to the live service")
            continue
        if not _LOCAL_HOST.match(value):
            raise UnsafeTestTargetError(f"{name}={value!r} does not point at 127.0.0.1")
    if environ.get("PITLANE_ENV", "test") == "prod":
        raise UnsafeTestTargetError("PITLANE_ENV=prod in a test run")


def _prune_stale_logs() -> None:
    """Remove log folders of pytest processes that are gone."""
    if not LOG_DIR.is_dir():
        return
    for folder in LOG_DIR.iterdir():
        if not folder.is_dir() or not folder.name.isdigit() or int(folder.name) == os.getpid():
            continue
        try:
            os.kill(int(folder.name), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass


class EmulatorPool:
    """Session-wide emulator processes, each started once, on first need, in a background thread."""

    def __init__(self, *, log_dir: Path | None = None, rules: Path = RULES_PATH) -> None:
        # One folder per pytest process: sessions run concurrently from one checkout must not
        # share (or delete) each other's logs. Kept after the run for debugging.
        self._log_dir = log_dir or LOG_DIR / str(os.getpid())
        self._rules = rules
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Managed]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._starters: dict[str, Callable[[], Managed]] = {
            "firestore": lambda: emulators.start_firestore(
                rules=self._rules, log_path=self._log("firestore"), timeout=START_TIMEOUT_S
            ),
            "pubsub": lambda: emulators.start_pubsub(log_path=self._log("pubsub"), timeout=START_TIMEOUT_S),
            "tasks": lambda: emulators.start_tasks(log_path=self._log("tasks"), timeout=START_TIMEOUT_S),
        }

    def _log(self, name: str) -> Path:
        _prune_stale_logs()
        path = self._log_dir / f"{name}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # one session's output per file (spawn appends)
        return path

    def prestart(self, *names: str) -> None:
        """Start the named emulators in the background (no-op for those already started)."""
        with self._lock:
            for name in names:
                if name in self._futures:
                    continue
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="emulator-start")
                self._futures[name] = self._executor.submit(self._starters[name])

    def get(self, name: str) -> Managed:
        """The running emulator ``name``, starting it now if nobody did."""
        self.prestart(name)
        try:
            return self._futures[name].result(timeout=START_TIMEOUT_S + 5)
        except Exception as exc:
            log = self._log_dir / f"{name}.log"
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else "(no log)"
            raise RuntimeError(f"the {name} emulator did not start: {exc}\n--- {log} ---\n{tail}") from exc

    @property
    def started(self) -> list[str]:
        return sorted(self._futures)

    def stop_all(self) -> None:
        """Stop every emulator, waiting for ones still starting (a start that failed stops itself)."""
        with self._lock:
            futures, self._futures = self._futures, {}
            executor, self._executor = self._executor, None

        def stop(future: Future[Managed]) -> None:
            try:
                managed = future.result(timeout=START_TIMEOUT_S + 5)
            except Exception:
                return
            managed.stop()

        stoppers = [threading.Thread(target=stop, args=(f,)) for f in futures.values()]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        if executor is not None:
            executor.shutdown(wait=True)


_http_client: httpx.Client | None = None


def local_http() -> httpx.Client:
    """One plain-HTTP client for the emulators' REST APIs, shared by all tests.

    A new ``httpx.Client`` loads the CA bundle (~50 ms); per request or per test that cost
    dominated the rules tests.
    """
    global _http_client  # noqa: PLW0603 - process-wide, lazily built
    if _http_client is None:
        _http_client = httpx.Client(timeout=10.0, verify=False)
    return _http_client


def wipe_firestore(host: str, project: str) -> None:
    """Delete every document of ``project`` in the emulator at ``host``."""
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    local_http().delete(url).raise_for_status()


def unique(name: str) -> str:
    """``name`` with a short random suffix: tests share one emulator, names must not collide."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


# --- Firestore REST API as a client app (web / mobile SDK) sees it ---------------------------------


def id_token(uid: str, *, project: str = TEST_PROJECT, email: str | None = None) -> str:
    """An unsigned Firebase ID token (``alg: none``) that the Firestore emulator accepts."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "firebase": {"sign_in_provider": "password", "identities": {}},
    }
    if email is not None:
        claims["email"] = email
        claims["email_verified"] = True

    def part(obj: Mapping[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def to_value(value: Any) -> dict[str, Any]:
    """A Python value as a Firestore REST ``Value``."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, datetime):
        return {"timestampValue": value.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [to_value(v) for v in value]}}
    if isinstance(value, Mapping):
        return {"mapValue": {"fields": {k: to_value(v) for k, v in value.items()}}}
    raise TypeError(f"no Firestore value for {type(value).__name__}")


def from_value(value: Mapping[str, Any]) -> Any:
    """A Firestore REST ``Value`` as a Python value (timestamps stay ISO strings)."""
    ((kind, inner),) = value.items()
    if kind == "integerValue":
        return int(inner)
    if kind == "arrayValue":
        return [from_value(v) for v in inner.get("values", [])]
    if kind == "mapValue":
        return {k: from_value(v) for k, v in inner.get("fields", {}).items()}
    return inner


@dataclass
class FirestoreRest:
    """The emulator's REST API, as a signed-in (``token``), anonymous or admin (``owner``) caller."""

    host: str
    project: str = TEST_PROJECT
    _http: httpx.Client = field(default_factory=local_http)

    @property
    def base(self) -> str:
        return f"http://{self.host}/v1/projects/{self.project}/databases/(default)/documents"

    @staticmethod
    def _auth(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, *, token: str | None = None) -> httpx.Response:
        return self._http.get(f"{self.base}/{path}", headers=self._auth(token))

    def list(self, collection: str, *, token: str | None = None) -> httpx.Response:
        return self._http.get(f"{self.base}/{collection}", headers=self._auth(token))

    def create(self, path: str, data: Mapping[str, Any], *, token: str | None = None) -> httpx.Response:
        """Create-only write (fails if the document exists), as the client SDKs' ``set`` on new docs."""
        body = {"fields": {k: to_value(v) for k, v in data.items()}}
        collection, _, doc_id = path.rpartition("/")
        return self._http.post(
            f"{self.base}/{collection}", params={"documentId": doc_id}, json=body, headers=self._auth(token)
        )

    def set(self, path: str, data: Mapping[str, Any], *, token: str | None = None) -> httpx.Response:
        """Replace (or create) the whole document."""
        body = {"fields": {k: to_value(v) for k, v in data.items()}}
        return self._http.patch(f"{self.base}/{path}", json=body, headers=self._auth(token))

    def update(self, path: str, data: Mapping[str, Any], *, token: str | None = None) -> httpx.Response:
        """Update the given fields of an existing document (``update`` in the client SDKs)."""
        body = {"fields": {k: to_value(v) for k, v in data.items()}}
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("updateMask.fieldPaths", k) for k in data
        ]
        params.append(("currentDocument.exists", "true"))
        return self._http.patch(f"{self.base}/{path}", params=params, json=body, headers=self._auth(token))

    def delete(self, path: str, *, token: str | None = None) -> httpx.Response:
        return self._http.delete(f"{self.base}/{path}", headers=self._auth(token))

    def admin_set(self, path: str, data: Mapping[str, Any]) -> None:
        """Seed data as the backend would (``Bearer owner`` bypasses the rules)."""
        self.set(path, data, token="owner").raise_for_status()

    def admin_set_many(self, docs: Mapping[str, Mapping[str, Any]]) -> None:
        """Seed many documents in one commit (one round trip instead of one per document)."""
        root = f"projects/{self.project}/databases/(default)/documents"
        writes = [
            {"update": {"name": f"{root}/{path}", "fields": {k: to_value(v) for k, v in data.items()}}}
            for path, data in docs.items()
        ]
        resp = self._http.post(f"{self.base}:commit", json={"writes": writes}, headers=self._auth("owner"))
        resp.raise_for_status()


# --- Pub/Sub ------------------------------------------------------------------------------------


@dataclass
class PubSubHelper:
    """Topics and subscriptions with unique names on the emulator, deleted at teardown."""

    project: str
    publisher: Any  # pubsub_v1.PublisherClient (ordering enabled)
    subscriber: Any  # pubsub_v1.SubscriberClient
    _topics: list[str] = field(default_factory=list)
    _subscriptions: list[str] = field(default_factory=list)

    def make_topic(self, name: str = "topic") -> str:
        """Create ``<name>-<random>`` and return its full path."""
        path = f"projects/{self.project}/topics/{unique(name)}"
        self.publisher.create_topic(request={"name": path})
        self._topics.append(path)
        return path

    def make_pull_subscription(self, topic: str, *, ordering: bool = True, ack_deadline_s: int = 10) -> str:
        path = f"projects/{self.project}/subscriptions/{unique(topic.rsplit('/', 1)[-1])}"
        self.subscriber.create_subscription(
            request={
                "name": path,
                "topic": topic,
                "enable_message_ordering": ordering,
                "ack_deadline_seconds": ack_deadline_s,
            }
        )
        self._subscriptions.append(path)
        return path

    def make_push_subscription(self, topic: str, endpoint: str) -> str:
        """A push subscription; the emulator POSTs the wrapped message body to ``endpoint``."""
        path = f"projects/{self.project}/subscriptions/{unique(topic.rsplit('/', 1)[-1])}"
        self.subscriber.create_subscription(
            request={"name": path, "topic": topic, "push_config": {"push_endpoint": endpoint}}
        )
        self._subscriptions.append(path)
        return path

    def publish(self, topic: str, data: bytes, *, ordering_key: str = "", **attributes: str) -> str:
        """Publish one message and wait for its id."""
        return self.publish_many(topic, [data], ordering_key=ordering_key, **attributes)[0]

    def publish_many(
        self, topic: str, payloads: list[bytes], *, ordering_key: str = "", **attributes: str
    ) -> list[str]:
        """Publish in order, then wait for all ids (waiting after each one costs ~80 ms a message)."""
        futures = [
            self.publisher.publish(topic, d, ordering_key=ordering_key, **attributes) for d in payloads
        ]
        return [str(f.result(timeout=10)) for f in futures]

    def pull_all(self, subscription: str, timeout: float = 5.0, *, expected: int | None = None) -> list[Any]:
        """Pull and ack messages until ``expected`` arrived, or (without it) until a pull comes back
        empty after at least one message, or ``timeout`` seconds passed. Returns PubsubMessages in
        delivery order."""
        from google.api_core import exceptions as gexc

        received: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if expected is not None and len(received) >= expected:
                break
            try:
                resp = self.subscriber.pull(
                    request={"subscription": subscription, "max_messages": 100},
                    timeout=max(0.5, min(2.0, deadline - time.monotonic())),
                )
            except gexc.DeadlineExceeded:
                continue
            if not resp.received_messages:
                if expected is None and received:
                    break
                time.sleep(0.05)
                continue
            received.extend(m.message for m in resp.received_messages)
            self.subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [m.ack_id for m in resp.received_messages]}
            )
        return received

    def cleanup(self) -> None:
        from google.api_core import exceptions as gexc

        for sub in self._subscriptions:
            with contextlib.suppress(gexc.GoogleAPICallError):
                self.subscriber.delete_subscription(request={"subscription": sub}, timeout=5)
        for topic in self._topics:
            with contextlib.suppress(gexc.GoogleAPICallError):
                self.publisher.delete_topic(request={"topic": topic}, timeout=5)


# --- a local HTTP endpoint that records what is sent to it -------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased (the tasks emulator sends "X-cloudtasks-queuename")
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RequestSink:
    """A real HTTP server on 127.0.0.1 that answers ``status`` and records every request.

    The target for Cloud Tasks dispatch and Pub/Sub push in tests (it stands in for a function's
    URL, not for any Google service).
    """

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[ReceivedRequest] = []
        self._cond = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with sink._cond:
                    sink.requests.append(
                        ReceivedRequest(
                            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                        )
                    )
                    sink._cond.notify_all()
                self.send_response(sink.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="request-sink",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedRequest]:
        """The first ``count`` requests; fails if they have not all arrived within ``timeout`` s."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests arrived in {timeout} s")
            return list(self.requests[:count])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve a WSGI app (e.g. a functions-framework app) on 127.0.0.1 in a thread; yields its URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="wsgi", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
