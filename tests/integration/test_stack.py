"""``pitlane stack``: the whole local stack up, healthy, firing a scheduler job, and down again.

Slow (about 10 s): it starts every emulator, the upstream server, the scheduler and every function
on a free port range in a temporary state folder, and checks that ``down`` leaves no process.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from google.pubsub_v1 import SubscriberClient
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from infra.local import emulators, stack
from infra.manifest import load_manifest
from shared.errors import ConfigError, PitlaneError

pytestmark = pytest.mark.slow

DATA_DIR = emulators.PROJECT_ROOT.parent / "shared" / "data"


def free_base_port() -> int:
    """The first of ``stack.PORT_SPAN`` consecutive free ports."""
    for _ in range(50):
        base = random.randrange(20000, 60000)
        if not any(emulators.port_in_use(base + i) for i in range(stack.PORT_SPAN)):
            return base
    raise RuntimeError("no free port range")


def options(state_dir: Path, **overrides: object) -> stack.StackOptions:
    if not DATA_DIR.is_dir():
        pytest.skip(f"{DATA_DIR} missing")
    return stack.StackOptions(state_dir=state_dir, base_port=free_base_port(), data_dir=DATA_DIR, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.UpResult]:
    opts = options(tmp_path_factory.mktemp("stack"))
    result = stack.up(opts)
    try:
        yield result
    finally:
        if stack.read_state(opts.state_dir) is not None:
            stack.down(opts.state_dir)


def state_dir_of(result: stack.UpResult) -> Path:
    return Path(result.state.parts[0].log).parent.parent


def test_up_starts_every_part_quickly_and_provisions(running: stack.UpResult) -> None:
    state = running.state
    assert state.up_seconds is not None and state.up_seconds < 30
    print(f"\nstack up in {state.up_seconds:.1f} s")
    manifest = load_manifest()
    names = {p.name for p in state.parts}
    assert {"firestore", "pubsub", "tasks", "upstream", "scheduler"} <= names
    assert names | set(state.skipped) >= set(manifest.functions)
    ports = [p.port for p in state.parts]
    assert len(set(ports)) == len(ports)
    assert all(state.base_port <= p < state.base_port + stack.PORT_SPAN for p in ports)
    assert running.report is not None and not any(c.status == "skipped" for c in running.report.changes)
    assert running.report.count("created") == len(running.report.changes)


def test_state_and_env_files(running: stack.UpResult) -> None:
    state_dir = state_dir_of(running)
    recorded = json.loads((state_dir / "stack.json").read_text())
    assert {p["name"]: p["pid"] for p in recorded["parts"]} == {p.name: p.pid for p in running.state.parts}
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in (state_dir / "stack.env").read_text().splitlines()
        if line.startswith("export ")
    )
    upstream = next(p for p in running.state.parts if p.name == "upstream").url
    assert exports["GOOGLE_CLOUD_PROJECT"] == "pitlane-local"
    assert exports["PUBSUB_EMULATOR_HOST"] == f"127.0.0.1:{running.state.base_port + 1}"
    assert exports["PITLANE_F1_SCHEDULE_URL"] == f"{upstream}/f1schedule/"
    assert exports["PITLANE_OPENF1_URL"] == upstream
    assert (state_dir / "logs" / "pubsub.log").is_file()
    assert all(p.start_ticks is not None for p in running.state.parts)


def test_a_recycled_pid_is_never_ours() -> None:
    me = stack.Part(name="x", kind="function", pid=os.getpid(), port=1, url="", health="tcp")
    ticks = stack.start_ticks(os.getpid())
    assert ticks is not None
    assert stack.is_ours(me.model_copy(update={"start_ticks": ticks}))
    assert not stack.is_ours(me.model_copy(update={"start_ticks": ticks + 1}))


def test_status_reports_every_part_healthy(running: stack.UpResult) -> None:
    results = stack.status(state_dir_of(running))
    assert results is not None
    assert [(p.name, ok) for p, ok, _ in results] == [(p.name, True) for p in running.state.parts]


def test_up_again_says_already_up(running: stack.UpResult) -> None:
    again = stack.up(stack.StackOptions(state_dir=state_dir_of(running), data_dir=DATA_DIR))
    assert again.already_up and again.state.started_at == running.state.started_at


def test_scheduler_job_run_reaches_the_topic(running: stack.UpResult) -> None:
    env = running.state.env
    project = env["GOOGLE_CLOUD_PROJECT"]
    subscriber = SubscriberClient(
        transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(env["PUBSUB_EMULATOR_HOST"]))
    )
    sub = f"projects/{project}/subscriptions/test-stack-tick"
    subscriber.create_subscription(name=sub, topic=f"projects/{project}/topics/schedule-tick")
    resp = httpx.post(f"{env['PITLANE_SCHEDULER_EMULATOR_URL']}/jobs/sync-schedule-hourly:run", timeout=10)
    assert resp.status_code == 200, resp.text
    pulled = subscriber.pull(subscription=sub, max_messages=5, timeout=10)
    messages = [m.message for m in pulled.received_messages]
    assert [m.message_id for m in messages] == [resp.json()["message_id"]]
    assert json.loads(messages[0].data) == {"reason": "hourly"}


def test_port_in_use_is_a_one_line_config_error(running: stack.UpResult, tmp_path: Path) -> None:
    opts = stack.StackOptions(state_dir=tmp_path, base_port=running.state.base_port, data_dir=DATA_DIR)
    with pytest.raises(ConfigError, match=rf"port {running.state.base_port} in use \(wanted for firestore\)"):
        stack.up(opts)
    assert stack.read_state(tmp_path) is None


def test_failure_during_up_stops_what_was_started(tmp_path: Path) -> None:
    source = tmp_path / "main.py"
    source.write_text(
        "def api(request):\n    return 'ok'\n\nsync_schedule = api\nraise RuntimeError('boom')\n"
    )
    opts = options(tmp_path / "state", functions_source=source)
    with pytest.raises(PitlaneError, match="exited"):
        stack.up(opts)
    assert stack.read_state(opts.state_dir) is None
    logs = sorted((opts.state_dir / "logs").glob("*.log"))
    assert logs  # parts were started (and logged) before the failure
    for offset in stack.OFFSETS.values():
        assert not emulators.port_in_use(opts.base_port + offset)


def test_down_leaves_no_process(running: stack.UpResult) -> None:
    state_dir = state_dir_of(running)
    stopped = stack.down(state_dir)
    assert stopped is not None and {p.pid for p in stopped} == {p.pid for p in running.state.parts}
    for part in running.state.parts:
        assert not emulators.group_alive(part.pid), f"{part.name} (pgid {part.pid}) still alive"
        assert not emulators.port_in_use(part.port), f"{part.name} port {part.port} still open"
    assert stack.read_state(state_dir) is None
    assert stack.down(state_dir) is None  # safe when nothing runs
