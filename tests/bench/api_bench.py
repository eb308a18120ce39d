"""The ``api`` function under load, its import time, and a soak.

Setup (once per bench): a Firestore emulator on a free port (project ``pitlane-bench``) seeded as
the contract test seeds it (the 2025 schedule with supporting series, the 2024 British GP practice
1 replayed through the ingest service, one session starting within the hour), and the ``api``
function served by functions-framework (``functions-framework --target api``: gunicorn, one
worker, its default threads) in its own process, logging to a file.

* ``api``: 50 concurrent clients (keep-alive connections of an asyncio client in this process)
  cycle through the hot endpoints for :data:`MEASURE_S` after a warm-up: p50, p99, requests per
  second (target: p99 < 100 ms warm). Import time: ``import functions.api`` in a fresh
  interpreter, median of :data:`IMPORTS` runs, against a bare functions-framework function's module
  in the same run (target < 0.5 s), and the heavy modules (pandas, FastF1, scikit-learn) found in
  ``sys.modules`` afterwards (target: none).
* ``api_soak``: 100 concurrent clients for :data:`SOAK_S` seconds: 5xx answers, failed
  connections and error lines in the function's log (target: none of either).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from infra.local import emulators
from shared import gcp
from shared.config import load_settings
from shared.services.ingest import ingest, messages_from_source
from shared.timing.reducer import SessionReducer
from tests.bench.common import Result, percentile

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pitlane-bench"
FP1 = "livetiming/static/2024/2024-07-07_British_Grand_Prix/2024-07-05_Practice_1"
SID = "2024_british_grand_prix_fp1"
HOT = (
    "/api/sessions/current",
    "/api/v1/session/current",
    f"/api/sessions/{SID}/live",
    f"/api/sessions/{SID}/drivers",
    f"/api/sessions/{SID}/laps?lap=5",
    "/api/races/2025_british_grand_prix/schedule?tz=America/New_York",
    "/api/races/2025_british_grand_prix/travel-plan?sessions=q,r",
    "/api/v1/session/silverstone/live",
)
CLIENTS, SOAK_CLIENTS = 50, 100
WARMUP_S, MEASURE_S, SOAK_S = 3.0, 15.0, 60.0
IMPORTS = 5
P99_TARGET_MS, IMPORT_TARGET_S = 100.0, 0.5
HEAVY = ("pandas", "fastf1", "sklearn")
BARE = 'import functions_framework\n\n\n@functions_framework.http\ndef bare(request):\n    return "ok"\n'


@dataclass
class Load:
    latencies_ms: list[float] = field(default_factory=list)
    by_path: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def _client(
    port: int, offset: int, *, until: float, measure_from: float, load: Load, paths: tuple[str, ...]
) -> None:
    """One keep-alive connection asking for the hot paths in turn (bounded by ``until``)."""
    reader = writer = None
    i = offset
    while time.perf_counter() < until:
        path = paths[i % len(paths)]
        i += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept-Encoding: gzip\r\n\r\n".encode())
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    close = True
            await reader.readexactly(length)
            if t0 >= measure_from:
                took = (time.perf_counter() - t0) * 1000
                load.latencies_ms.append(took)
                load.by_path.setdefault(path, []).append(took)
                load.statuses[status] += 1
            if close:
                writer.close()
                reader = writer = None
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            load.failures += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


def run_load(
    port: int, clients: int, *, warmup_s: float, measure_s: float, paths: tuple[str, ...] = HOT
) -> Load:
    load = Load()

    async def main() -> None:
        start = time.perf_counter()
        measure_from, until = start + warmup_s, start + warmup_s + measure_s
        await asyncio.gather(
            *(
                _client(port, k, until=until, measure_from=measure_from, load=load, paths=paths)
                for k in range(clients)
            )
        )

    asyncio.run(main())
    load.seconds = measure_s
    return load


def _import_seconds(module: str, *, path: Path, env: dict[str, str]) -> tuple[float, list[str]]:
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(path)!r})\n"
        "t = time.perf_counter()\n"
        f"import {module}\n"
        "took = time.perf_counter() - t\n"
        f"print(took, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT
    )
    took, heavy = out.stdout.strip().split(" ", 1)
    return float(took), json.loads(heavy.replace("'", '"'))


def import_times(tmp: Path) -> tuple[float, float, list[str]]:
    (tmp / "bare_function.py").write_text(BARE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PITLANE_")}
    api, bare, heavy = [], [], set()
    for _ in range(IMPORTS):  # alternate, so both see the same machine load
        took, found = _import_seconds("functions.api", path=ROOT, env=env)
        api.append(took)
        heavy |= set(found)
        bare.append(_import_seconds("bare_function", path=tmp, env=env)[0])
    return median(api), median(bare), sorted(heavy)


def seed(settings_env: dict[str, str]) -> None:
    from shared.races.mapping import TravelRace
    from shared.stores.races import import_races
    from tests.function.test_api_travel import seed_season

    settings = load_settings(**settings_env)
    db = gcp.firestore_client(settings)
    seed_season(db, settings, 2025)
    source = messages_from_source(str(settings.require_data_dir / FP1), settings=settings)
    ingest(source.messages, reducer=SessionReducer(), db=db, publisher=None, settings=settings)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    db.collection("sessions").document("2099_next_grand_prix_r").set(
        {"session_id": "2099_next_grand_prix_r", "name": "Race", "code": "r", "start_utc": soon}
    )
    import_races(
        db, [TravelRace(race_id="gbr-2025", name="British GP", circuit="Silverstone", date="2025-07-06")]
    )


def _serve_argv(source: Path, target: str, port: int) -> list[str]:
    """functions-framework as the local stack runs it (gunicorn, one worker, its default threads)."""
    ff = str(Path(sys.executable).parent / "functions-framework")
    return [ff, "--source", str(source), "--target", target, "--host", "127.0.0.1", "--port", str(port)]


@dataclass
class Served:
    port: int
    log: Path


@contextlib.contextmanager
def serving_api(tmp: Path) -> Iterator[Served]:
    """Firestore emulator seeded, and the api function served over HTTP; both stopped on exit."""
    fs = emulators.start_firestore(log_path=tmp / "firestore.log")
    server: emulators.Managed | None = None
    try:
        hosts = {"FIRESTORE_EMULATOR_HOST": fs.address, "GOOGLE_CLOUD_PROJECT": PROJECT}
        with _environ(hosts):
            seed(hosts)
        port = emulators.free_port()
        env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")} | hosts
        argv = _serve_argv(ROOT / "functions" / "main.py", "api", port)
        server = emulators.spawn(
            "api", argv, host="127.0.0.1", port=port, log_path=tmp / "api.log", env=env, cwd=ROOT
        )
        emulators.wait_http_ok(
            f"http://127.0.0.1:{port}/api/health", timeout=60, proc=server.process, what="api"
        )
        yield Served(port=port, log=tmp / "api.log")
    finally:
        if server is not None:
            server.stop()
        fs.stop()


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
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
        gcp.reset_clients()


def log_errors(log: Path) -> int:
    """Lines of the function's log that report an error (JSON severity, a traceback, gunicorn)."""
    count = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if (
            '"severity": "ERROR"' in line
            or '"severity": "CRITICAL"' in line
            or line.startswith("Traceback")
            or "[ERROR]" in line
            or "[CRITICAL]" in line
        ):
            count += 1
    return count


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="pitlane-bench-api-") as name:
        tmp = Path(name)
        api_s, bare_s, heavy = import_times(tmp)
        with serving_bare(tmp) as bare_port:
            bare = run_load(bare_port, CLIENTS, warmup_s=WARMUP_S, measure_s=MEASURE_S, paths=("/",))
        with serving_api(tmp) as served:
            load = run_load(served.port, CLIENTS, warmup_s=WARMUP_S, measure_s=MEASURE_S)
            errors = log_errors(served.log)
    p50, p99 = percentile(load.latencies_ms, 50), percentile(load.latencies_ms, 99)
    total = sum(load.statuses.values())
    ok = load.statuses.get(200, 0)
    hot = f"{CLIENTS} clients, {len(HOT)} hot endpoints, warm"
    peer = "bare function, same load"
    return [
        Result(f"api p50 ({hot})", p50, "ms", peer=percentile(bare.latencies_ms, 50), peer_name=peer),
        Result(
            f"api p99 ({hot})",
            p99,
            "ms",
            peer=percentile(bare.latencies_ms, 99),
            peer_name=peer,
            target=f"< {P99_TARGET_MS:.0f} ms",
            met=p99 < P99_TARGET_MS,
        ),
        Result(
            f"api throughput ({ok} x 200 of {total}, {load.failures} failed, {errors} log errors)",
            load.rate,
            "req/s",
            peer=bare.rate,
            peer_name=peer,
            met=ok == total and not load.failures and not errors,
        ),
        Result(
            f"import functions.api (heavy modules: {', '.join(heavy) or 'none'})",
            api_s,
            "s",
            peer=bare_s,
            peer_name="bare functions-framework function",
            target=f"< {IMPORT_TARGET_S} s, no {'/'.join(HEAVY)}",
            met=api_s < IMPORT_TARGET_S and not heavy,
        ),
    ]


def run_soak() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="pitlane-bench-soak-") as name, serving_api(Path(name)) as served:
        load = run_load(served.port, SOAK_CLIENTS, warmup_s=0.0, measure_s=SOAK_S)
        errors = log_errors(served.log)
    server_errors = sum(n for s, n in load.statuses.items() if s >= 500)
    total = sum(load.statuses.values())
    label = f"{SOAK_CLIENTS} clients x {SOAK_S:.0f} s"
    return [
        Result(
            f"soak {label}: requests ({load.rate:.0f}/s, p99 {percentile(load.latencies_ms, 99):.0f} ms)",
            float(total),
            "req",
        ),
        Result(
            f"soak {label}: 5xx answers + failed connections",
            float(server_errors + load.failures),
            "",
            target="0",
            met=server_errors + load.failures == 0,
        ),
        Result(
            f"soak {label}: error lines in the function's log", float(errors), "", target="0", met=errors == 0
        ),
    ]


@contextlib.contextmanager
def serving_bare(tmp: Path) -> Iterator[int]:
    """The bare functions-framework function, served the same way (the peer of the load figures)."""
    (tmp / "bare_function.py").write_text(BARE)
    port = emulators.free_port()
    argv = _serve_argv(tmp / "bare_function.py", "bare", port)
    server = emulators.spawn("bare", argv, host="127.0.0.1", port=port, log_path=tmp / "bare.log", cwd=tmp)
    try:
        emulators.wait_http_ok(f"http://127.0.0.1:{port}/", timeout=60, proc=server.process, what="bare")
        yield port
    finally:
        server.stop()
