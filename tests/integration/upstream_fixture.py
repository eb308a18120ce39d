"""Run the real upstream server (uvicorn) on a free port in a background thread, for tests.

Usage::

    with running_upstream(data_dir=settings.require_data_dir) as upstream:
        httpx.get(f"{upstream.url}/v1/laps?session_key=9606")
        assert upstream.requests()[-1]["path"] == "/v1/laps"
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from infra.local.emulators import free_port
from infra.upstream.app import create_app
from infra.upstream.faults import FaultRule


@dataclass
class Upstream:
    """A running upstream server: ``url`` is its root (what the URL settings are set to)."""

    url: str
    port: int
    log_path: Path | None

    def requests(self) -> list[dict[str, Any]]:
        """The server's request log (``GET /_upstream/requests``), oldest first."""
        resp = httpx.get(f"{self.url}/_upstream/requests", timeout=5)
        resp.raise_for_status()
        return list(resp.json())

    def reset(self) -> None:
        """Clear the request log and every fault rule."""
        httpx.delete(f"{self.url}/_upstream/requests", timeout=5).raise_for_status()
        httpx.delete(f"{self.url}/_upstream/faults", timeout=5).raise_for_status()

    def add_fault(self, **rule: Any) -> list[dict[str, Any]]:
        resp = httpx.post(f"{self.url}/_upstream/faults", json=rule, timeout=5)
        resp.raise_for_status()
        return list(resp.json())


@contextmanager
def running_upstream(
    *,
    data_dir: Path,
    log_path: Path | None = None,
    faults: list[FaultRule] | None = None,
    replay_source: str | None = None,
    speed: float = 1.0,
) -> Iterator[Upstream]:
    """Start the server, wait until ``/_upstream/health`` answers, stop it on exit."""
    port = free_port()
    app = create_app(
        data_dir=data_dir, log_path=log_path, faults=faults, replay_source=replay_source, speed=speed
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name=f"upstream-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"upstream server did not start on port {port}")
        time.sleep(0.02)
    httpx.get(f"{url}/_upstream/health", timeout=5).raise_for_status()
    try:
        yield Upstream(url=url, port=port, log_path=log_path)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
