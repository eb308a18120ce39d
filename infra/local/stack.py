"""The local stack: every emulator, the upstream server, the scheduler and every function.

``up`` starts each part in the background in its own process group (logs under
``<state>/logs/``), waits for all of them in parallel, provisions topics, subscriptions, queues and
scheduler jobs (``infra.provision``), then writes ``<state>/stack.json`` (pids, ports, URLs) and
``<state>/stack.env`` (``export`` lines a shell can ``source``). A failure during ``up`` stops what
was started. ``down`` stops every recorded process group and checks that none remains.

Ports are fixed so URLs stay stable between runs: ``base`` (default 8700) + offset, documented in
:data:`OFFSETS`; functions take ``base + 10 + i`` in manifest order. The whole stack fits in
``base .. base + 29``.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from infra.local import emulators
from infra.manifest import MANIFEST_PATH, Manifest, load_manifest
from infra.provision import ProvisionReport, provision
from shared.config import Settings, load_settings
from shared.errors import ConfigError, PitlaneError

PROJECT_ROOT = emulators.PROJECT_ROOT
DEFAULT_STATE_DIR = PROJECT_ROOT / ".pitlane"
DEFAULT_BASE_PORT = 8700
HOST = "127.0.0.1"
LOCAL_PROJECT = "pitlane-local"
OFFSETS = {"firestore": 0, "pubsub": 1, "tasks": 2, "upstream": 3, "scheduler": 4, "webhook_sink": 5}
FUNCTION_OFFSET = 10
PORT_SPAN = 30
READY_TIMEOUT_S = 25.0

Health = Literal["http-ok", "http-any", "tcp"]


class Part(BaseModel):
    """One running process of the stack, as recorded in ``stack.json``."""

    name: str
    kind: Literal["emulator", "upstream", "scheduler", "webhook_sink", "function"]
    pid: int  # also the process group id (each part leads its own session)
    port: int
    url: str
    health: Health
    health_url: str = ""
    log: str = ""
    # Start time of ``pid`` (clock ticks since boot, from /proc): a recycled pid is never signalled.
    start_ticks: int | None = None


class StackState(BaseModel):
    started_at: datetime
    base_port: int
    project: str
    parts: list[Part]
    skipped: dict[str, str] = {}
    env: dict[str, str] = {}
    up_seconds: float | None = None

    def function_urls(self) -> dict[str, str]:
        return {p.name: p.url for p in self.parts if p.kind == "function"}


DEFAULT_REPLAY = "livetiming/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race"


@dataclass
class StackOptions:
    state_dir: Path = DEFAULT_STATE_DIR
    base_port: int = DEFAULT_BASE_PORT
    data_dir: Path | None = None
    manifest_path: Path = MANIFEST_PATH
    functions_source: Path = PROJECT_ROOT / "functions" / "main.py"
    firestore_rules: Path | None = PROJECT_ROOT / "firestore.rules"
    # The live feed the upstream server replays (relative to the data dir); speed 1 is real time.
    replay_source: str | None = DEFAULT_REPLAY
    replay_speed: float = 1.0
    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)


def state_path(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def read_state(state_dir: Path) -> StackState | None:
    path = state_path(state_dir)
    if not path.is_file():
        return None
    return StackState.model_validate_json(path.read_text(encoding="utf-8"))


def _write_state(state_dir: Path, state: StackState) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_path(state_dir).with_suffix(".tmp")
    tmp.write_text(state.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(state_path(state_dir))


def plan_ports(base_port: int, function_names: list[str]) -> dict[str, int]:
    """Every part's port: fixed offsets from ``base_port``; functions from ``base + 10``."""
    if len(function_names) > PORT_SPAN - FUNCTION_OFFSET:
        raise ConfigError(f"{len(function_names)} functions do not fit the stack's {PORT_SPAN}-port range")
    ports = {name: base_port + offset for name, offset in OFFSETS.items()}
    ports |= {name: base_port + FUNCTION_OFFSET + i for i, name in enumerate(function_names)}
    return ports


def stack_env(
    ports: dict[str, int], *, data_dir: Path | None, functions: Sequence[str] = ()
) -> dict[str, str]:
    """The environment of every part and of a shell that sources ``stack.env``."""
    upstream = f"http://{HOST}:{ports['upstream']}"
    env = {
        "GOOGLE_CLOUD_PROJECT": LOCAL_PROJECT,
        "PITLANE_ENV": "local",
        "FIRESTORE_EMULATOR_HOST": f"{HOST}:{ports['firestore']}",
        "PUBSUB_EMULATOR_HOST": f"{HOST}:{ports['pubsub']}",
        "PITLANE_TASKS_EMULATOR_HOST": f"{HOST}:{ports['tasks']}",
        "PITLANE_SCHEDULER_EMULATOR_URL": f"http://{HOST}:{ports['scheduler']}",
        "PITLANE_F1_STATIC_URL": upstream,
        "PITLANE_F1_LIVE_URL": upstream,
        "PITLANE_OPENF1_URL": upstream,
        "PITLANE_JOLPICA_URL": upstream,
        "PITLANE_F1_SCHEDULE_URL": f"{upstream}/f1schedule/",
        "PITLANE_MULTIVIEWER_URL": upstream,
        # Where Cloud Tasks and callers reach each function (Settings.function_url).
        "PITLANE_FUNCTION_URLS": json.dumps({name: f"http://{HOST}:{ports[name]}" for name in functions}),
    }
    if "webhook_sink" in ports:  # ops Slack messages go to the local webhook sink too
        env["PITLANE_SLACK_WEBHOOK_URL"] = f"http://{HOST}:{ports['webhook_sink']}/slack"
    if data_dir is not None:
        env["PITLANE_DATA_DIR"] = str(data_dir)
    return env


def settings_for(env: dict[str, str]) -> Settings:
    """Settings equal to what a part sees in ``env`` (built from it, not from this process)."""
    return load_settings(
        GOOGLE_CLOUD_PROJECT=env["GOOGLE_CLOUD_PROJECT"],
        FIRESTORE_EMULATOR_HOST=env["FIRESTORE_EMULATOR_HOST"],
        PUBSUB_EMULATOR_HOST=env["PUBSUB_EMULATOR_HOST"],
        tasks_emulator_host=env["PITLANE_TASKS_EMULATOR_HOST"],
        scheduler_emulator_url=env["PITLANE_SCHEDULER_EMULATOR_URL"],
        function_urls=json.loads(env.get("PITLANE_FUNCTION_URLS", "{}")),
        f1_static_url=env["PITLANE_F1_STATIC_URL"],
        f1_live_url=env["PITLANE_F1_LIVE_URL"],
        openf1_url=env["PITLANE_OPENF1_URL"],
        jolpica_url=env["PITLANE_JOLPICA_URL"],
        f1_schedule_url=env["PITLANE_F1_SCHEDULE_URL"],
        multiviewer_url=env["PITLANE_MULTIVIEWER_URL"],
        env="local",
    )


def cli_settings(state_dir: Path = DEFAULT_STATE_DIR) -> Settings:
    """Settings for a CLI command: the environment's, or, when it names no emulators and the
    default local project while the local stack runs, the stack's (a shell that did not
    ``source .pitlane/stack.env`` still means the running stack)."""
    settings = load_settings()
    state = read_state(state_dir)
    if state is not None and not settings.uses_emulators and settings.project == LOCAL_PROJECT:
        return settings_for(state.env)
    return settings


def defined_targets(source: Path) -> set[str]:
    """Top-level names ``source`` defines or imports (functions-framework's possible targets)."""
    if not source.is_file():
        return set()
    names: set[str] = set()
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                # a lazy module (PEP 562 __getattr__) serves the names it lists in __all__
                elts = getattr(node.value, "elts", [])
                names |= {str(e.value) for e in elts if isinstance(e, ast.Constant)}
    return names


@dataclass
class _Launch:
    part: Part
    argv: list[str]


def _launches(
    opts: StackOptions, manifest: Manifest, ports: dict[str, int], data_dir: Path, skipped: dict[str, str]
) -> list[_Launch]:
    logs = opts.state_dir / "logs"

    def part(name: str, kind: str, health: Health, path: str = "/") -> Part:
        url = f"http://{HOST}:{ports[name]}"
        return Part.model_validate(
            {
                "name": name,
                "kind": kind,
                "pid": 0,
                "port": ports[name],
                "url": url,
                "health": health,
                "health_url": url + path if health != "tcp" else "",
                "log": str(logs / f"{name}.log"),
            }
        )

    rules = opts.firestore_rules if opts.firestore_rules and opts.firestore_rules.is_file() else None
    out = [
        # Command lines come from the emulator module (tests start the same processes); resolving
        # them first makes a missing SDK or Java fail before anything is spawned.
        _Launch(
            part("firestore", "emulator", "http-ok"),
            emulators.firestore_argv(host=HOST, port=ports["firestore"], rules=rules),
        ),
        _Launch(
            part("pubsub", "emulator", "http-ok"), emulators.pubsub_argv(host=HOST, port=ports["pubsub"])
        ),
        _Launch(part("tasks", "emulator", "tcp"), emulators.tasks_argv(port=ports["tasks"])),
        _Launch(
            part("upstream", "upstream", "http-ok", "/_upstream/health"),
            [
                str(opts.bin_dir / "pitlane"),
                "upstream",
                "--port",
                str(ports["upstream"]),
                "--data-dir",
                str(data_dir),
                "--log",
                str(opts.state_dir / "upstream-requests.jsonl"),
                *(
                    ["--replay", opts.replay_source, "--speed", str(opts.replay_speed)]
                    if opts.replay_source
                    else []
                ),
            ],
        ),
        _Launch(
            part("scheduler", "scheduler", "http-ok", "/healthz"),
            [
                sys.executable,
                "-m",
                "infra.local.scheduler",
                "--host",
                HOST,
                "--port",
                str(ports["scheduler"]),
            ],
        ),
    ]
    out.append(
        _Launch(
            part("webhook_sink", "webhook_sink", "http-ok", "/healthz"),
            [
                sys.executable,
                "-m",
                "infra.local.webhook_sink",
                "--host",
                HOST,
                "--port",
                str(ports["webhook_sink"]),
            ],
        )
    )
    targets = defined_targets(opts.functions_source)
    for name, fn in manifest.functions.items():
        if name not in targets:
            skipped[name] = f"no entry point {name!r} in {opts.functions_source}"
            continue
        health: Health = "http-any" if fn.signature_type == "http" else "tcp"
        out.append(
            _Launch(
                part(name, "function", health),
                [
                    str(opts.bin_dir / "functions-framework"),
                    "--target",
                    name,
                    "--source",
                    str(opts.functions_source),
                    "--signature-type",
                    fn.signature_type,
                    "--host",
                    HOST,
                    "--port",
                    str(ports[name]),
                ],
            )
        )
    return out


def check_health(part: Part, *, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether ``part`` answers now, with a short word on what it said."""
    import httpx

    if part.health == "tcp":
        return (True, "listening") if emulators.port_in_use(part.port, HOST) else (False, "not listening")
    try:
        resp = httpx.get(part.health_url, timeout=timeout)
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    ok = resp.is_success if part.health == "http-ok" else resp.status_code < 500
    return ok, f"HTTP {resp.status_code}"


def _wait_ready(part: Part, proc: emulators.Managed) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise PitlaneError(f"{part.name} exited with code {proc.process.returncode} (log: {part.log})")
        if check_health(part, timeout=1.0)[0]:
            return
        time.sleep(0.1)
    raise PitlaneError(f"{part.name} not ready after {READY_TIMEOUT_S:.0f} s (log: {part.log})")


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (``/proc/<pid>/stat`` field 22); ``None`` if unknown or gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_ours(part: Part) -> bool:
    """Whether ``part.pid`` (its process group id) still names the group ``up`` started.

    The leader may have exited while its group lives on (start time unknown): still ours. A leader
    with another start time is a recycled pid that belongs to someone else.
    """
    now = start_ticks(part.pid)
    return part.pid > 0 and (part.start_ticks is None or now is None or now == part.start_ticks)


def alive_parts(state: StackState) -> list[Part]:
    return [p for p in state.parts if is_ours(p) and emulators.group_alive(p.pid)]


@dataclass
class UpResult:
    state: StackState
    already_up: bool = False
    report: ProvisionReport | None = None


def up(opts: StackOptions) -> UpResult:
    """Start the whole stack (see the module docstring); returns the state written."""
    started = time.monotonic()
    existing = read_state(opts.state_dir)
    if existing is not None:
        if alive_parts(existing):
            return UpResult(existing, already_up=True)
        down(opts.state_dir)  # stale state from a crashed run: nothing runs, clear it
    if opts.data_dir is None:
        raise ConfigError("PITLANE_DATA_DIR is not set and ../shared/data does not exist")
    manifest = load_manifest(opts.manifest_path)
    ports = plan_ports(opts.base_port, list(manifest.functions))
    for name, port in ports.items():
        if emulators.port_in_use(port, HOST):
            raise ConfigError(f"port {port} in use (wanted for {name}); pick another --base-port")
    env = stack_env(ports, data_dir=opts.data_dir, functions=list(manifest.functions))
    skipped: dict[str, str] = {}
    launches = _launches(opts, manifest, ports, opts.data_dir, skipped)
    child_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    state = StackState(
        started_at=datetime.now(UTC),
        base_port=opts.base_port,
        project=LOCAL_PROJECT,
        parts=[],
        skipped=skipped,
        env=env,
    )
    procs: list[tuple[Part, emulators.Managed]] = []
    try:
        for launch in launches:
            proc = emulators.spawn(
                launch.part.name,
                launch.argv,
                host=HOST,
                port=launch.part.port,
                log_path=Path(launch.part.log),
                env=child_env,
                cwd=PROJECT_ROOT,
            )
            part = launch.part.model_copy(update={"pid": proc.pid, "start_ticks": start_ticks(proc.pid)})
            procs.append((part, proc))
            state.parts.append(part)
            _write_state(opts.state_dir, state)  # so `down` can clean up even if this process dies
        with ThreadPoolExecutor(max_workers=len(procs)) as pool:
            for fut in [pool.submit(_wait_ready, part, proc) for part, proc in procs]:
                fut.result()
        report = provision(manifest=manifest, settings=settings_for(env), function_urls=state.function_urls())
    except BaseException:
        _stop_all([part.pid for part, _ in procs])
        state_path(opts.state_dir).unlink(missing_ok=True)
        raise
    state.up_seconds = round(time.monotonic() - started, 2)
    _write_state(opts.state_dir, state)
    write_env_file(opts.state_dir / "stack.env", env, state)
    return UpResult(state, report=report)


def write_env_file(path: Path, env: dict[str, str], state: StackState) -> None:
    lines = ["# Written by `pitlane stack up`; `source` it to talk to the local stack.", ""]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _stop_all(pids: list[int]) -> None:
    live = [pid for pid in pids if pid > 0]
    if not live:
        return
    with ThreadPoolExecutor(max_workers=len(live)) as pool:
        list(pool.map(lambda pid: emulators.stop_pid(pid, timeout=5.0), live))


def down(state_dir: Path) -> list[Part] | None:
    """Stop every recorded process group; ``None`` when nothing was recorded.

    Raises ``PitlaneError`` naming the pids still alive afterwards (state is then kept).
    """
    state = read_state(state_dir)
    if state is None:
        return None
    _stop_all([p.pid for p in reversed(state.parts) if is_ours(p)])
    left = alive_parts(state)
    if left:
        pids = ", ".join(f"{p.name}={p.pid}" for p in left)
        raise PitlaneError(f"processes still alive after SIGKILL: {pids}")
    state_path(state_dir).unlink(missing_ok=True)
    (state_dir / "stack.env").unlink(missing_ok=True)
    return state.parts


def status(state_dir: Path) -> list[tuple[Part, bool, str]] | None:
    state = read_state(state_dir)
    if state is None:
        return None
    with ThreadPoolExecutor(max_workers=max(1, len(state.parts))) as pool:
        results = list(pool.map(check_health, state.parts))
    return [(part, ok, word) for part, (ok, word) in zip(state.parts, results, strict=True)]
