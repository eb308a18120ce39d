"""``pitlane replay`` of the whole 2018 Azerbaijan GP race at max speed into the emulators.

The bench starts its own Firestore and Pub/Sub emulators on free ports (project ``pitlane-bench``,
``race-events`` created first) and runs ``pitlane replay <race folder> --speed max`` as a
subprocess pointed at them: its wall time, the Firestore writes and events published from the
JSON summary (its last stdout line), and its peak RSS (``ru_maxrss`` from ``os.wait4`` in a small
wrapper process that starts it, see ``_PEAK_RSS``). The peer is the same command with
``--dry-run`` (the reducer only: no Firestore, no Pub/Sub) in the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api_core.exceptions import AlreadyExists

from infra.local import emulators
from shared import gcp
from shared.config import Settings, load_settings
from shared.events import TOPIC
from tests.bench.common import Result

RACE = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"
PROJECT = "pitlane-bench"
RACE_S = 1 * 3600 + 55 * 60  # the session's feed spans about 1 h 55 min
TIMEOUT_S = 240.0


@dataclass
class Emulators:
    """Running Firestore and Pub/Sub emulators: ``env`` for a subprocess, ``settings`` in-process."""

    env: dict[str, str]
    settings: Settings


@contextlib.contextmanager
def running_emulators(log_dir: Path) -> Iterator[Emulators]:
    """Start both emulators on free ports, create ``race-events``; stop both on exit."""
    started: list[emulators.Managed] = []
    try:
        fs = emulators.start_firestore(log_path=log_dir / "firestore.log", wait=False)
        started.append(fs)
        ps = emulators.start_pubsub(log_path=log_dir / "pubsub.log", wait=False)
        started.append(ps)
        for m in started:
            emulators.wait_http_ok(f"http://{m.address}/", timeout=60, proc=m.process, what=m.name)
        hosts = {"FIRESTORE_EMULATOR_HOST": fs.address, "PUBSUB_EMULATOR_HOST": ps.address}
        env = {**hosts, "GOOGLE_CLOUD_PROJECT": PROJECT}
        settings = load_settings(**env)
        with contextlib.suppress(AlreadyExists):
            gcp.publisher_client(settings).create_topic(name=gcp.topic_path(settings, TOPIC))
        yield Emulators(env=env, settings=settings)
    finally:
        for m in reversed(started):
            m.stop()


@dataclass
class Replay:
    seconds: float
    max_rss_mb: float
    summary: dict[str, Any]


# Reaps the command and writes its peak RSS. The command must be forked from this small process:
# Linux carries the RSS high-water mark of the process that forks (or vforks) over to the child
# across exec, so a child of the bench would report at least the bench's own peak (FastF1...).
_PEAK_RSS = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _replay(argv: list[str], env: dict[str, str], out_dir: Path) -> Replay:
    """Run ``pitlane replay``: wall time, peak RSS (``ru_maxrss``, KiB on Linux), JSON summary."""
    rss = out_dir / "maxrss"
    wrapped = [sys.executable, "-c", _PEAK_RSS, str(rss), *argv]
    t0 = time.perf_counter()
    proc = subprocess.Popen(wrapped, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        emulators.stop_pid(proc.pid, timeout=5)
        proc.communicate()
        raise TimeoutError(f"pitlane replay still running after {TIMEOUT_S:.0f} s") from None
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"pitlane replay exited with {proc.returncode}: {' | '.join(tail)}")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    return Replay(seconds, int(rss.read_text()) / 1024, summary)


def run() -> list[Result]:
    race = load_settings().require_data_dir / RACE
    pitlane = str(Path(sys.executable).parent / "pitlane")
    with tempfile.TemporaryDirectory(prefix="pitlane-bench-replay-") as tmp_name:
        tmp = Path(tmp_name)
        base = [pitlane, "replay", str(race), "--speed", "max", "--state-dir", str(tmp / "state")]
        env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
        dry = _replay([*base, "--dry-run"], env | {"GOOGLE_CLOUD_PROJECT": PROJECT}, tmp)
        with running_emulators(tmp) as emu:
            full = _replay(base, env | emu.env, tmp)
    s = full.summary
    return [
        Result(f"replay whole race, max speed ({s['messages']} msgs, {RACE_S / full.seconds:.0f}x real time)",
               full.seconds, "s", dry.seconds, "--dry-run"),
        Result(f"Firestore writes ({s['laps']} laps, {s['race_control']} race control)",
               float(s["firestore_writes"]), "writes"),
        Result("events published to race-events", float(s["events_published"]), "events"),
        Result("peak RSS of the replaying process", full.max_rss_mb, "MiB", dry.max_rss_mb, "--dry-run"),
    ]  # fmt: skip
