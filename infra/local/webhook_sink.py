"""A local webhook receiver: prints every notification it gets, so the demo shows the alerts.

``pitlane stack up`` starts it (port ``base + 5``, 8705 by default) and points the ops Slack
webhook at its ``/slack`` path; subscribe a webhook to any other path, e.g.::

    pitlane subscriptions add --user demo --topics sc,vsc,red_flag \\
        --webhook http://127.0.0.1:8705/demo --secret pitlane-local-webhook-secret

Each request is printed as one line (path, topic, title, body, and whether its signature verifies
with the sink's secret, ``--secret``, default :data:`LOCAL_SECRET`) and kept in memory:

* ``POST /<any path>``: recorded, answered 200;
* ``POST /fail/<status>/<any path>``: recorded, answered ``<status>`` (to watch retries and the
  dead-letter topic);
* ``GET /_sink/received[?path=<prefix>]``: what was received, oldest first (JSON: ``path``,
  ``headers``, ``json``, ``received_at`` Unix seconds, ``signature``, ``status``);
* ``DELETE /_sink/received``: forget it; ``GET /healthz``: ``{"status": "ok"}``.

Tests run the same server in a thread (:class:`WebhookSink`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from shared.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

LOCAL_SECRET = "pitlane-local-webhook-secret"
_FAIL = re.compile(r"^/fail/(\d{3})(/|$)")


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    received_at: float  # Unix seconds (time.time()) when the request was read
    signature: str  # "ok", "bad: <why>" or "unsigned"
    status: int  # what the sink answered

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def public(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "headers": self.headers,
            "json": self.json(),
            "received_at": self.received_at,
            "signature": self.signature,
            "status": self.status,
        }


def describe(item: Received) -> str:
    """One printable line for a received notification."""
    doc = item.json() or {}
    if "text" in doc and "title" not in doc:  # Slack's incoming-webhook shape
        what = "slack: " + str(doc["text"]).splitlines()[0][:200]
    else:
        what = f"[{doc.get('topic', '?')}] {doc.get('title', '')}: {doc.get('body', '')}"
    stamp = time.strftime("%H:%M:%S", time.localtime(item.received_at))
    return f"{stamp} webhook {item.path} -> {item.status} {what} (signature {item.signature})"


class WebhookSink:
    """The sink as a server in a thread of this process (``url``, ``received``, ``wait_for``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        secret: str | None = LOCAL_SECRET,
        out: TextIO | None = None,
    ) -> None:
        self.secret = secret
        self.out = out
        self._items: list[Received] = []
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> WebhookSink:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-sink",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.2)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, item: Received) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()
        if self.out is not None:
            print(describe(item), file=self.out, flush=True)

    def received(self, path: str = "") -> list[Received]:
        """Requests whose path starts with ``path``, oldest first."""
        with self._cond:
            return [i for i in self._items if i.path.startswith(path)]

    def wait_for(self, count: int, path: str = "", timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests under ``path``; ``TimeoutError`` if they do not arrive."""
        with self._cond:
            done = self._cond.wait_for(
                lambda: sum(i.path.startswith(path) for i in self._items) >= count, timeout=timeout
            )
            got = [i for i in self._items if i.path.startswith(path)]
        if not done:
            raise TimeoutError(f"{len(got)} of {count} requests to {path or '/'} arrived in {timeout} s")
        return got[:count]

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def check(self, headers: dict[str, str], body: bytes) -> str:
        if SIGNATURE_HEADER.lower() not in headers:
            return "unsigned"
        if self.secret is None:
            return "unchecked"
        try:
            verify(
                self.secret,
                body,
                timestamp=headers.get(TIMESTAMP_HEADER.lower()),
                signature_header=headers.get(SIGNATURE_HEADER.lower()),
                now=time.time(),
            )
        except SignatureError as exc:
            return f"bad: {exc}"
        return "ok"


def _handler(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, doc: Any = None) -> None:
            body = json.dumps(doc).encode() if doc is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/healthz":
                self._answer(200, {"status": "ok"})
            elif parts.path == "/_sink/received":
                prefix = parse_qs(parts.query).get("path", [""])[0]
                self._answer(200, [i.public() for i in sink.received(prefix)])
            else:
                self._answer(404, {"detail": "POST notifications to any path; GET /_sink/received"})

        def do_DELETE(self) -> None:
            if urlsplit(self.path).path != "/_sink/received":
                self._answer(404)
                return
            sink.clear()
            self._answer(204)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received_at = time.time()
            headers = {k.lower(): v for k, v in self.headers.items()}
            fail = _FAIL.match(self.path)
            status = int(fail.group(1)) if fail else 200
            sink.add(Received(self.path, headers, body, received_at, sink.check(headers, body), status))
            self._answer(status, {"received": True} if status < 300 else {"detail": "failing on purpose"})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webhook_sink", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8705)
    parser.add_argument("--secret", default=LOCAL_SECRET, help="verify signatures with this secret")
    args = parser.parse_args(argv)
    sink = WebhookSink(args.host, args.port, secret=args.secret, out=sys.stdout)
    print(f"webhook sink listening on {sink.url} (signatures checked with --secret)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sink.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
