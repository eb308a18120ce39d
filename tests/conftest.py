"""Shared fixtures for all test tiers.

* Every test runs with ``os.environ`` restored afterwards; when a test changed it, cached settings
  and Google clients are dropped too.
* Tests under ``tests/integration`` are marked ``integration``, under ``tests/function``
  ``function``.
* Emulators (see ``tests/emulators.py``) are session-wide processes, started in parallel in the
  background as soon as collection shows which ones the selected tests need, and stopped at
  session end.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from infra.local.emulators import Managed
from shared import gcp
from shared.config import Settings, get_settings, load_settings
from tests.emulators import (
    FIXTURE_EMULATOR,
    TEST_PROJECT,
    EmulatorPool,
    FirestoreRest,
    PubSubHelper,
    RequestSink,
    check_safe_target,
    unique,
    wipe_firestore,
)

TESTS_DIR = Path(__file__).resolve().parent
_TIER_MARKERS = {"integration": pytest.mark.integration, "function": pytest.mark.function}

_pool = EmulatorPool()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (CI cancelling a job, `timeout`, `kill`) would end Python without teardown and
    # orphan the emulator JVMs; as an interrupt, pytest still runs pytest_sessionfinish.
    if (
        signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        and threading.current_thread() is threading.main_thread()
    ):
        signal.signal(signal.SIGTERM, _interrupt)
    atexit.register(_pool.stop_all)  # last resort; a no-op once the session stopped everything


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            tier = item.path.relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if tier in _TIER_MARKERS:
            item.add_marker(_TIER_MARKERS[tier])


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start, in parallel, every emulator the selected tests will ask for (none for unit tests)."""
    if session.config.option.collectonly:
        return
    needed = {
        FIXTURE_EMULATOR[name]
        for item in session.items
        for name in getattr(item, "fixturenames", ())
        if name in FIXTURE_EMULATOR
    }
    _pool.prestart(*sorted(needed))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _pool.stop_all()


_emulators_used: dict[str, str] = {}


def _used(managed: Managed) -> Managed:
    _emulators_used[managed.name] = f"{managed.address} (pid {managed.pid})"
    return managed


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say which tiers ran and which real emulator processes served them."""
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("passed", []):
        if report.when != "call":
            continue
        tier = next((t for t in _TIER_MARKERS if t in report.keywords), "unit")
        counts[tier] = counts.get(tier, 0) + 1
    terminalreporter.write_sep("-", "pitlane test tiers")
    terminalreporter.write_line("passed: " + ", ".join(f"{n} {tier}" for tier, n in sorted(counts.items())))
    for name, where in sorted(_emulators_used.items()):
        terminalreporter.write_line(f"real {name} emulator: {where}")


# --- environment --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """Give each test the environment it started with; forget settings/clients built from changes."""
    saved = dict(os.environ)
    yield
    changed = dict(os.environ) != saved
    os.environ.clear()
    os.environ.update(saved)
    if changed:
        get_settings.cache_clear()
        gcp.reset_clients()


@pytest.fixture
def test_env(_restore_environ: None) -> Iterator[dict[str, str]]:
    """Point settings at the test project (never a live one); yields ``os.environ``."""
    os.environ["GOOGLE_CLOUD_PROJECT"] = TEST_PROJECT
    os.environ["PITLANE_ENV"] = "test"
    os.environ.pop("PITLANE_PROJECT", None)
    # No credentials in reach: a client that escaped the emulators fails instead of touching a project.
    os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    get_settings.cache_clear()
    yield dict(os.environ)


@pytest.fixture(autouse=True)
def _integration_guard(request: pytest.FixtureRequest) -> None:
    """Integration tests run in the test environment and only against local emulators."""
    if request.node.get_closest_marker("integration") is None:
        return
    request.getfixturevalue("test_env")
    check_safe_target(os.environ)


@pytest.fixture
def settings(request: pytest.FixtureRequest, test_env: dict[str, str]) -> Settings:
    """``load_settings()`` once the test environment and the test's emulator fixtures are applied
    (whatever order the test lists its fixtures in)."""
    for name in ("firestore_env", "pubsub", "tasks"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    return load_settings()


# --- emulators (session-wide processes) --------------------------------------------------------


@pytest.fixture(scope="session")
def firestore_emulator() -> Managed:
    """The Firestore emulator process (with ``firestore.rules``); ``.address`` is ``127.0.0.1:port``."""
    return _used(_pool.get("firestore"))


@pytest.fixture(scope="session")
def pubsub_emulator() -> Managed:
    return _used(_pool.get("pubsub"))


@pytest.fixture(scope="session")
def tasks_emulator() -> Managed:
    """gcloud-tasks-emulator (gRPC); quirks are listed in ``tests/emulators.py``."""
    return _used(_pool.get("tasks"))


@pytest.fixture
def firestore_env(test_env: dict[str, str], firestore_emulator: Managed) -> str:
    """Set ``FIRESTORE_EMULATOR_HOST``, wipe the test project; returns the emulator address."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = firestore_emulator.address
    check_safe_target(os.environ, needs=("FIRESTORE_EMULATOR_HOST",))
    wipe_firestore(firestore_emulator.address, TEST_PROJECT)
    get_settings.cache_clear()
    return firestore_emulator.address


@pytest.fixture
def firestore_db(firestore_env: str) -> Iterator[object]:
    """A ``google.cloud.firestore.Client`` (via ``shared.gcp``) on an empty emulator database."""
    client = gcp.firestore_client(load_settings())
    yield client
    client.close()


@pytest.fixture
def firestore_rest(firestore_env: str) -> FirestoreRest:
    """The emulator's REST API as a client app sees it (rules enforced); see ``FirestoreRest``."""
    return FirestoreRest(host=firestore_env, project=TEST_PROJECT)


@pytest.fixture
def pubsub(test_env: dict[str, str], pubsub_emulator: Managed) -> Iterator[PubSubHelper]:
    """Pub/Sub on the emulator: ``make_topic``, ``make_pull_subscription``, ``make_push_subscription``,
    ``publish``, ``pull_all``; plus ``publisher`` / ``subscriber`` clients from ``shared.gcp``."""
    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator.address
    check_safe_target(os.environ, needs=("PUBSUB_EMULATOR_HOST",))
    get_settings.cache_clear()
    settings = load_settings()
    helper = PubSubHelper(
        project=settings.project,
        publisher=gcp.publisher_client(settings),
        subscriber=gcp.subscriber_client(settings),
    )
    yield helper
    helper.cleanup()


@pytest.fixture
def tasks(test_env: dict[str, str], tasks_emulator: Managed) -> object:
    """A ``tasks_v2.CloudTasksClient`` (via ``shared.gcp``) talking to the Cloud Tasks emulator."""
    os.environ["PITLANE_TASKS_EMULATOR_HOST"] = tasks_emulator.address
    check_safe_target(os.environ, needs=("PITLANE_TASKS_EMULATOR_HOST",))
    get_settings.cache_clear()
    return gcp.tasks_client(load_settings())


@pytest.fixture
def tasks_queue(tasks: object, settings: Settings) -> Iterator[str]:
    """A fresh, empty queue on the Cloud Tasks emulator; yields its full path, deleted afterwards."""
    from google.cloud import tasks_v2

    client: tasks_v2.CloudTasksClient = tasks  # type: ignore[assignment]
    path = gcp.queue_path(settings, unique("queue"))
    parent = path.rsplit("/queues/", 1)[0]
    client.create_queue(parent=parent, queue=tasks_v2.Queue(name=path))
    yield path
    client.delete_queue(name=path)


@pytest.fixture
def http_sink() -> Iterator[RequestSink]:
    """A local HTTP endpoint (``.url``) that answers 200 and records requests (``.wait_for(n)``)."""
    sink = RequestSink()
    yield sink
    sink.close()
