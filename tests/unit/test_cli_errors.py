"""Bad configuration stops the CLI with one line naming the problem and exit code 2."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

PITLANE = [sys.executable, "-m", "infra.cli"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PITLANE_")} | env
    return subprocess.run(
        [*PITLANE, *args], capture_output=True, text=True, env=full_env, timeout=60, check=False
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pitlane: error: ")
    return lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_unknown_setting_value() -> None:
    assert "PITLANE_ENV='bogus'" in one_line_error(run("stack", "status", PITLANE_ENV="bogus"))


def test_misspelt_setting_name() -> None:
    assert "PITLANE_OPENF1_URI" in one_line_error(run("deploy", "--dry-run", PITLANE_OPENF1_URI="http://x"))


def test_missing_data_dir() -> None:
    line = one_line_error(run("upstream", PITLANE_DATA_DIR="/no/such/folder"))
    assert "PITLANE_DATA_DIR" in line and "does not exist" in line


def test_port_in_use(busy_port: int) -> None:
    line = one_line_error(run("upstream", "--port", str(busy_port)))
    assert f"port {busy_port}" in line and "in use" in line
