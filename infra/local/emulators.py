"""Start and stop Google's Firestore and Pub/Sub emulators and the Cloud Tasks emulator.

The Firestore and Pub/Sub emulators come from the Cloud SDK on this machine (the
``google-cloud-cli-*-emulator`` packages); they are started directly (the Firestore jar is ready in
about a second), not through ``gcloud beta emulators``. The Cloud Tasks emulator is
``gcloud-tasks-emulator`` from PyPI, installed by ``make setup`` into ``.venv-tasks`` because it
pins ``protobuf<5``.

Every process starts in its own session (process group), so stopping it also stops its children
(the Pub/Sub launcher script starts a JVM).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import httpx

from shared.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TASKS_VENV = PROJECT_ROOT / ".venv-tasks"


@lru_cache(maxsize=1)
def sdk_root() -> Path:
    """The Cloud SDK root (``gcloud info --format='value(installation.sdk_root)'``)."""
    for candidate in (Path("/usr/lib/google-cloud-sdk"), Path("/usr/share/google-cloud-sdk")):
        if (candidate / "platform").is_dir():
            return candidate
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise ConfigError("the Google Cloud CLI is not installed (gcloud not found on PATH)")
    out = subprocess.run(
        [gcloud, "info", "--format=value(installation.sdk_root)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(out.stdout.strip())


def firestore_jar() -> Path:
    jar = sdk_root() / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
    if not jar.is_file():
        raise ConfigError(f"Firestore emulator not installed ({jar} missing)")
    return jar


def pubsub_launcher() -> Path:
    launcher = sdk_root() / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator"
    if not launcher.is_file():
        raise ConfigError(f"Pub/Sub emulator not installed ({launcher} missing)")
    return launcher


def tasks_launcher() -> Path:
    launcher = TASKS_VENV / "bin" / "gcloud-tasks-emulator"
    if not launcher.is_file():
        raise ConfigError(f"Cloud Tasks emulator not installed ({launcher} missing): run `make setup`")
    return launcher


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def ensure_port_free(port: int, host: str = "127.0.0.1", *, what: str) -> None:
    if port_in_use(port, host):
        raise ConfigError(f"port {port} on {host} is already in use (wanted for {what})")


@dataclass
class Managed:
    """A background process we started, with where it listens and where it logs."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        stop_pid(self.process.pid, timeout=timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=1)


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    host: str,
    port: int,
    log_path: Path | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Managed:
    """Start ``argv`` in its own process group, output to ``log_path`` (or discarded)."""
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = log_path.open("ab")
    else:
        out = open(os.devnull, "wb")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        out.close()
    return Managed(name=name, process=proc, host=host, port=port, log_path=log_path)


def stop_pid(pid: int, *, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL whatever is left after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not group_alive(pid):
                return
            time.sleep(0.05)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still "exists"; reap it if it is our child.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pgid, os.WNOHANG)
        if done == pgid:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return False
    return True


def wait_http_ok(
    url: str, *, timeout: float, proc: subprocess.Popen[bytes] | None = None, what: str = ""
) -> None:
    """Poll ``url`` until it answers 2xx; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    last: str = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or url} exited with code {proc.returncode} before it was ready")
        try:
            resp = httpx.get(url, timeout=1.0)
            if resp.is_success:
                return
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise TimeoutError(f"{what or url} not ready after {timeout:.0f} s ({last})")


def wait_tcp(
    host: str, port: int, *, timeout: float, proc: subprocess.Popen[bytes] | None = None, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or port} exited with code {proc.returncode} before it was ready")
        if port_in_use(port, host):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what or port} not listening on {host}:{port} after {timeout:.0f} s")


def firestore_argv(*, host: str, port: int, rules: Path | None = None) -> list[str]:
    """The command line of the Firestore emulator (the jar started directly, no gcloud)."""
    java = shutil.which("java")
    if java is None:
        raise ConfigError("java not found on PATH (the Firestore emulator needs a Java runtime)")
    argv = [
        java,
        "-cp",
        str(firestore_jar()),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "start",
        f"--host={host}",
        f"--port={port}",
    ]
    return [*argv, f"--rules={rules}"] if rules is not None else argv


def pubsub_argv(*, host: str, port: int) -> list[str]:
    return [str(pubsub_launcher()), f"--host={host}", f"--port={port}"]


def tasks_argv(*, port: int) -> list[str]:
    return [str(tasks_launcher()), "start", f"--port={port}"]


def start_firestore(
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    rules: Path | None = None,
    log_path: Path | None = None,
    wait: bool = True,
    timeout: float = 30.0,
) -> Managed:
    """Google's Firestore emulator; ``rules`` enforces security rules for client (token) requests."""
    port = port or free_port(host)
    ensure_port_free(port, host, what="the Firestore emulator")
    argv = firestore_argv(host=host, port=port, rules=rules)
    managed = spawn("firestore", argv, host=host, port=port, log_path=log_path)
    if wait:
        wait_http_ok(
            f"http://{host}:{port}/", timeout=timeout, proc=managed.process, what="Firestore emulator"
        )
    return managed


def start_pubsub(
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    wait: bool = True,
    timeout: float = 30.0,
) -> Managed:
    """Google's Pub/Sub emulator (push subscriptions POST to local functions)."""
    port = port or free_port(host)
    ensure_port_free(port, host, what="the Pub/Sub emulator")
    argv = pubsub_argv(host=host, port=port)
    managed = spawn("pubsub", argv, host=host, port=port, log_path=log_path)
    if wait:
        wait_http_ok(f"http://{host}:{port}/", timeout=timeout, proc=managed.process, what="Pub/Sub emulator")
    return managed


def start_tasks(
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    wait: bool = True,
    timeout: float = 30.0,
) -> Managed:
    """``gcloud-tasks-emulator``: a gRPC Cloud Tasks API that dispatches real HTTP requests."""
    port = port or free_port(host)
    ensure_port_free(port, host, what="the Cloud Tasks emulator")
    argv = tasks_argv(port=port)
    managed = spawn("tasks", argv, host=host, port=port, log_path=log_path)
    if wait:
        wait_tcp(host, port, timeout=timeout, proc=managed.process, what="Cloud Tasks emulator")
    return managed
