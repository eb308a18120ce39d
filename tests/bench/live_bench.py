"""``record`` on the live feed at 1x: feed-to-listener latency and the write rate per document.

The upstream server (a thread of this process) replays the 2018 Azerbaijan GP race at real speed
from lap 40, just before the yellow flag and the safety car (``START_OFFSET_S``), for
``WINDOW_S`` seconds. ``record(RecordRequest(source="live", run_seconds=WINDOW_S))`` runs in a
thread against it, into Firestore and Pub/Sub emulators this bench starts; Firestore
``on_snapshot`` listeners (their own client, as a frontend would have) watch
``sessions/{id}``, ``sessions/{id}/live/state`` and the ``drivers`` collection.

* Latency: a tap of our own subscribes to the same feed (the replay's clock waits for both
  subscribers, ``wait_for: 2``) and notes when each message arrived, by its feed ``utc``. A tower
  snapshot's latency is when its listener callback fired minus when the message carrying its
  ``updated_utc`` arrived at the tap. The peer: a bare ``set`` to the same emulator until its
  listener fires, measured in the same run.
* Write rate: every change the listeners see, by the document's ``update_time`` (the emulator's
  commit time), counted per document in every sliding 1 s window (``(t - 1 s, t]``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from shared import gcp
from shared.errors import TransientError
from shared.feed import format_utc
from shared.services.live_recorder import RecordRequest, RecordResult, record
from shared.sources.http import make_http_client
from shared.sources.livefeed import open_live_feed
from shared.stores.session_store import session_path, tower_path
from tests.bench.common import Result, percentile
from tests.bench.replay_bench import PROJECT, running_emulators
from tests.integration.upstream_fixture import running_upstream

RACE = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
SID = "2018_azerbaijan_grand_prix_r"
# 01:22:50 into the feed: lap 40 is under way; yellow in sector 1 at 01:23:08, safety car
# deployed at 01:23:50, lap 41 at 01:24:12 (offsets of the archive's own .jsonStream files).
START_OFFSET_S = 1 * 3600 + 22 * 60 + 50
WINDOW_S = 90.0
LATENCY_TARGET_S = 1.5
PROBES = 20


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """The Firestore library finds the emulator through the environment; restore it afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Tap:
    """Our own subscription to the replay: wall time (``time.time``) each feed ``utc`` arrived."""

    def __init__(self, url: str, http: httpx.Client) -> None:
        self.arrived: dict[str, float] = {}
        self.feed = open_live_feed(url, http=http)
        self.thread = threading.Thread(target=self._read, name="bench-tap", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(TransientError):
            for msg in self.feed.messages():
                self.arrived.setdefault(format_utc(msg.utc), time.time())

    def close(self) -> None:
        self.feed.close()
        self.thread.join(timeout=5)


class Listeners:
    """``on_snapshot`` on the session, its tower and its drivers; every change by document."""

    def __init__(self, db: Any, sid: str) -> None:
        self.commits: dict[str, set[float]] = defaultdict(set)  # path -> update_time (epoch s)
        self.tower: list[tuple[str, float]] = []  # (updated_utc, wall time the callback fired)
        self._lock = threading.Lock()
        self.watches = [
            db.document(session_path(sid)).on_snapshot(self._on_docs),
            db.document(tower_path(sid)).on_snapshot(self._on_tower),
            db.collection(f"{session_path(sid)}/drivers").on_snapshot(self._on_drivers),
        ]

    def _note(self, snap: Any) -> None:
        if snap.exists and snap.update_time is not None:
            with self._lock:
                self.commits[snap.reference.path].add(snap.update_time.timestamp())

    def _on_docs(self, snaps: list[Any], changes: Any, read_time: Any) -> None:
        for snap in snaps:
            self._note(snap)

    def _on_tower(self, snaps: list[Any], changes: Any, read_time: Any) -> None:
        now = time.time()
        for snap in snaps:
            self._note(snap)
            updated = (snap.to_dict() or {}).get("updated_utc") if snap.exists else None
            if updated is not None:
                with self._lock:
                    self.tower.append((format_utc(updated), now))

    def _on_drivers(self, snaps: list[Any], changes: list[Any], read_time: Any) -> None:
        for change in changes:
            if change.type.name in ("ADDED", "MODIFIED"):
                self._note(change.document)

    def close(self) -> None:
        for watch in self.watches:
            watch.unsubscribe()


def max_in_window(times: set[float], width: float = 1.0) -> int:
    """Most commits in any window ``(t - width, t]``."""
    ordered, best, j = sorted(times), 0, 0
    for i, t in enumerate(ordered):
        while ordered[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best


def _probe_latency(db: Any) -> list[float]:
    """Seconds from a bare ``set`` until its listener fires, ``PROBES`` times (the peer)."""
    fired: dict[int, float] = {}
    seen = threading.Condition()

    def on(snaps: list[Any], changes: Any, read_time: Any) -> None:
        with seen:
            for snap in snaps:
                if snap.exists:
                    fired.setdefault(int((snap.to_dict() or {})["n"]), time.time())
            seen.notify_all()

    ref = db.document("bench/probe")
    watch = ref.on_snapshot(on)
    out: list[float] = []
    try:
        for n in range(PROBES):
            t0 = time.time()
            ref.set({"n": n})
            deadline = time.monotonic() + 5
            with seen:
                while n not in fired and (left := deadline - time.monotonic()) > 0:
                    seen.wait(left)
            if n in fired:
                out.append(fired[n] - t0)
            time.sleep(0.05)
    finally:
        watch.unsubscribe()
    return out


def _record_in_thread(req: RecordRequest, **deps: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = record(req, enqueue=lambda nxt: box.setdefault("enqueued", nxt), **deps)
        except BaseException as exc:  # reported by run()
            box["error"] = exc

    thread = threading.Thread(target=target, name="bench-record", daemon=True)
    thread.start()
    return thread, box


def run() -> list[Result]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import firestore

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pitlane-bench-live-")))
        emu = stack.enter_context(running_emulators(tmp))
        data_dir = emu.settings.require_data_dir
        up = stack.enter_context(running_upstream(data_dir=data_dir, replay_source=RACE, speed=1.0))
        stack.enter_context(_environ(emu.env))
        settings = emu.settings.model_copy(update={"f1_live_url": up.url, "f1_static_url": up.url})
        http = stack.enter_context(make_http_client(settings))
        listen_db = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
        listeners = Listeners(listen_db, SID)
        stack.callback(listeners.close)
        body = {"speed": 1, "start_offset_s": START_OFFSET_S, "wait_for": 2}
        http.post(f"{up.url}/_upstream/replay", json=body).raise_for_status()
        tap = Tap(up.url, http)
        stack.callback(tap.close)
        req = RecordRequest(source="live", run_seconds=WINDOW_S, checkpoint_every_s=5.0)
        db, publisher = gcp.firestore_client(settings), gcp.publisher_client(settings)
        thread, box = _record_in_thread(req, db=db, publisher=publisher, settings=settings, http=http)
        thread.join(timeout=WINDOW_S + 60)
        if thread.is_alive():
            raise TimeoutError(f"record did not stop within {WINDOW_S + 60:.0f} s")
        if "error" in box:
            raise box["error"]
        time.sleep(1.0)  # the last snapshots reach the listeners
        peer = _probe_latency(listen_db)
    result: RecordResult = box["result"]
    latencies = [fired - tap.arrived[utc] for utc, fired in listeners.tower if utc in tap.arrived]
    if not latencies:
        raise RuntimeError("no tower snapshot matched a feed message")
    rates = {path: max_in_window(times) for path, times in listeners.commits.items()}
    busiest = max(rates, key=lambda p: rates[p])
    gaps = [b - a for times in listeners.commits.values() for a, b in itertools.pairwise(sorted(times))]
    writes = sum(len(t) for t in listeners.commits.values())
    msgs = result.summary.messages if result.summary else 0
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return [
        Result(f"feed-to-listener latency p50 ({len(latencies)} tower snapshots, {msgs} msgs in "
               f"{WINDOW_S:.0f} s from lap 40)", p50 * 1000, "ms", percentile(peer, 50) * 1000,
               "bare set p50"),
        Result("feed-to-listener latency p99", p99 * 1000, "ms", percentile(peer, 99) * 1000, "bare set p99",
               f"< {LATENCY_TARGET_S * 1000:.0f} ms", p99 < LATENCY_TARGET_S),
        Result(f"max writes to one document in any 1 s ({len(rates)} docs, {writes} writes; {busiest})",
               float(rates[busiest]), "writes/s", target="<= 1", met=rates[busiest] <= 1),
        Result(f"shortest interval between two writes of one document ({sum(g < 1.0 for g in gaps)} of "
               f"{len(gaps)} under 1 s)", min(gaps, default=float("nan")) * 1000, "ms"),
    ]  # fmt: skip
