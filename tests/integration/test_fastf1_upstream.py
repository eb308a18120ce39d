"""Acceptance: FastF1 3.9 loads the 2018 Azerbaijan GP race through the upstream server, offline.

Every socket connection and name lookup outside loopback is refused for the whole load, so a
single FastF1 host left unpatched fails the test instead of quietly using the network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.upstream.fastf1_local import point_fastf1_at
from shared.config import load_settings
from tests.integration.upstream_fixture import Upstream, running_upstream

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RACE_DIR = "/static/2018/2018-04-29_Azerbaijan_Grand_Prix/2018-04-29_Race/"


class NetworkAttemptError(AssertionError):
    """Something tried to reach a host that is not this machine."""


def _is_loopback(host: Any) -> bool:
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _guard_network(patch: pytest.MonkeyPatch, attempts: list[str]) -> None:
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(host):
            attempts.append(f"connect {address}")
            raise NetworkAttemptError(f"network access to {address}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            attempts.append(f"resolve {host}")
            raise NetworkAttemptError(f"name lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    patch.setattr(socket.socket, "connect", connect)
    patch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Upstream, list[str]]]:
    """One FastF1 load per test session: (session, server, refused network attempts)."""
    import fastf1

    data_dir: Path = load_settings().require_data_dir
    attempts: list[str] = []
    with running_upstream(data_dir=data_dir) as upstream, pytest.MonkeyPatch.context() as patch:
        _guard_network(patch, attempts)
        point_fastf1_at(upstream.url, tmp_path_factory.mktemp("fastf1-cache"))
        session = fastf1.get_session(2018, "Azerbaijan", "R")
        session.load(laps=True, telemetry=False, weather=False, messages=True)
        yield session, upstream, attempts


def test_fastf1_loads_848_laps_with_no_network(loaded: tuple[Any, Upstream, list[str]]) -> None:
    session, _, attempts = loaded
    assert len(session.laps) == 848
    assert attempts == []
    assert session.event["EventName"] == "Azerbaijan Grand Prix"
    assert int(session.laps["LapNumber"].max()) == 51
    assert len(session.drivers) == 20
    assert not session.race_control_messages.empty


def test_fastf1_requests_went_to_the_server(loaded: tuple[Any, Upstream, list[str]]) -> None:
    _, upstream, _ = loaded
    paths = [e["path"] for e in upstream.requests()]
    assert "/f1schedule/schedule_2018.json" in paths
    assert RACE_DIR + "TimingData.jsonStream" in paths
    assert RACE_DIR + "TimingAppData.jsonStream" in paths
    assert any(p.startswith("/ergast/f1/2018/4/") for p in paths)
    statuses = {e["status"] for e in upstream.requests() if e["path"].startswith(RACE_DIR)}
    assert statuses == {200}
