"""The upstream server: an OpenF1 filtered query against serving the same file raw (the peer)."""

from __future__ import annotations

import time

import httpx

from shared.config import load_settings
from tests.bench.common import Result, percentile
from tests.integration.upstream_fixture import running_upstream

ROUNDS = 200
QUERY = "/v1/laps?session_key=9606&driver_number=1&lap_number>=10"


def _latencies(client: httpx.Client, url: str) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        client.get(url).raise_for_status()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run() -> list[Result]:
    data_dir = load_settings().require_data_dir
    with running_upstream(data_dir=data_dir) as up, httpx.Client(base_url=up.url) as client:
        client.get(QUERY)
        query = _latencies(client, QUERY)
        raw = _latencies(client, "/f1schedule/schedule_2024.json")
    return [
        Result(
            "OpenF1 filtered laps p50", percentile(query, 50), "ms", percentile(raw, 50), "static file p50"
        ),
        Result(
            "OpenF1 filtered laps p99", percentile(query, 99), "ms", percentile(raw, 99), "static file p99"
        ),
    ]
