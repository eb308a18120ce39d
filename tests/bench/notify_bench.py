"""Acceptance 2: race event to webhook on the local stack (target: p99 < 2 s).

``pitlane stack up`` on free ports (emulators, every function, the webhook sink; no live replay),
one subscriber of Safety Car alerts with a webhook to the sink. :data:`EVENTS` Safety Car
track-status events, each of a session of its own (each a new deployment, so each notifies), are
published on ``race-events`` as the event publisher does, one every :data:`INTERVAL_S`. An event's
latency is the sink's receive time minus the time just before its publish (one clock). The path:
Pub/Sub emulator push -> ``notify_race_events`` (functions-framework) -> incident register,
subscriber query, ledger claim in the Firestore emulator -> signed webhook POST -> sink.

The peer: the same messages on a topic of their own, pushed by the emulator straight to the sink
(what Pub/Sub's push alone costs here). The first event (a cold function) is reported apart.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from infra.local import stack
from infra.local.webhook_sink import LOCAL_SECRET
from infra.manifest import MANIFEST_PATH
from shared import gcp
from shared.config import load_settings
from shared.services.subscriptions import SubscriptionCreate, create_subscription
from shared.timing.models import EventKind, RaceEvent
from tests.bench.common import Result, percentile
from tests.bench.stack_bench import _free_base_port

EVENTS = 100
INTERVAL_S = 0.05
TARGET_P99_S = 2.0
ROOT = Path(__file__).resolve().parents[2]


def _received(sink: str, path: str) -> list[dict[str, Any]]:
    resp = httpx.get(f"{sink}/_sink/received", params={"path": path}, timeout=5)
    resp.raise_for_status()
    return list(resp.json())


def _wait(sink: str, path: str, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        got = _received(sink, path)
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def _publish_events(publisher: Any, topic: str, sessions: list[str]) -> dict[str, float]:
    sent: dict[str, float] = {}
    for i, sid in enumerate(sessions):
        event = RaceEvent.make(sid, EventKind.TRACK_STATUS, "sc_1", "2099-01-01T12:00:00+00:00", status="sc")
        sent[sid] = time.time()
        publisher.publish(
            topic,
            event.model_dump_json().encode(),
            ordering_key=sid,
            event_id=event.event_id,
            kind="track_status",
        ).result(timeout=10)
        if i + 1 < len(sessions):
            time.sleep(INTERVAL_S)
    return sent


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="pitlane-bench-notify-") as tmp_dir:
        tmp = Path(tmp_dir)
        opts = stack.StackOptions(
            state_dir=tmp / "state",
            base_port=_free_base_port(),
            data_dir=load_settings().require_data_dir,
            manifest_path=MANIFEST_PATH,
            functions_source=ROOT / "functions" / "main.py",
            replay_source=None,
        )
        result = stack.up(opts)
        try:
            return _measure(result.state)
        finally:
            stack.down(opts.state_dir)


def _measure(state: stack.StackState) -> list[Result]:
    settings = stack.settings_for(state.env)
    sink = next(p.url for p in state.parts if p.name == "webhook_sink")
    db = gcp.firestore_client(settings)
    body = SubscriptionCreate.model_validate(
        {"topics": ["sc"], "channels": [{"type": "webhook", "url": f"{sink}/bench", "secret": LOCAL_SECRET}]}
    )
    create_subscription(db=db, uid="bench", body=body, settings=settings)
    publisher = gcp.publisher_client(settings)
    race_events = gcp.topic_path(settings, "race-events")

    cold = _publish_events(publisher, race_events, ["2099_bench_cold_grand_prix_r"])
    (first,) = _wait(sink, "/bench", 1)
    cold_s = first["received_at"] - next(iter(cold.values()))

    sessions = [f"2099_bench_{i:03d}_grand_prix_r" for i in range(EVENTS)]
    sent = _publish_events(publisher, race_events, sessions)
    got = [r for r in _wait(sink, "/bench", EVENTS + 1) if r["json"]["session_id"] in sent]
    latencies = [r["received_at"] - sent[r["json"]["session_id"]] for r in got]
    bad = sum(r["signature"] != "ok" for r in got)

    peer_topic = gcp.topic_path(settings, "bench-notify-peer")
    gcp.publisher_client(settings).create_topic(name=peer_topic)
    gcp.subscriber_client(settings).create_subscription(
        request={
            "name": gcp.subscription_path(settings, "bench-notify-peer"),
            "topic": peer_topic,
            "push_config": {"push_endpoint": f"{sink}/peer"},
        }
    )
    peer_sent = _publish_events(publisher, peer_topic, [f"peer_{i:03d}" for i in range(EVENTS)])
    peer = [
        r["received_at"] - peer_sent[_peer_session(r)]
        for r in _wait(sink, "/peer", EVENTS)
        if _peer_session(r) in peer_sent
    ]
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return [
        Result("event to webhook, first (cold) event", cold_s * 1000, "ms"),
        Result(
            f"event to webhook p50 ({len(latencies)}/{EVENTS} delivered, {bad} bad signatures)",
            p50 * 1000,
            "ms",
            peer=percentile(peer, 50) * 1000 if peer else None,
            peer_name="Pub/Sub push alone, p50",
        ),
        Result(
            "event to webhook p99",
            p99 * 1000,
            "ms",
            peer=percentile(peer, 99) * 1000 if peer else None,
            peer_name="Pub/Sub push alone, p99",
            target=f"< {TARGET_P99_S * 1000:.0f} ms",
            met=p99 < TARGET_P99_S and len(latencies) == EVENTS and bad == 0,
        ),
    ]


def _peer_session(received: dict[str, Any]) -> str:
    import base64
    import json

    message = (received.get("json") or {}).get("message") or {}
    return str(json.loads(base64.b64decode(message.get("data", "")) or b"{}").get("session_id", ""))
