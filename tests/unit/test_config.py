"""Settings: defaults point at the real services; bad configuration is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import load_settings
from shared.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("PITLANE_") or key in {"GOOGLE_CLOUD_PROJECT", "FIRESTORE_EMULATOR_HOST"}:
            monkeypatch.delenv(key, raising=False)


def test_defaults_point_at_real_services() -> None:
    s = load_settings()
    assert s.f1_static_url == "https://livetiming.formula1.com"
    assert s.openf1_url == "https://api.openf1.org"
    assert s.jolpica_url == "https://api.jolpi.ca"
    assert s.f1_schedule_folder.endswith("/")
    assert not s.uses_emulators


def test_data_dir_defaults_to_shared_data_when_present() -> None:
    s = load_settings()
    expected = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    assert s.data_dir == (expected if expected.is_dir() else None)


def test_contract_names_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-x")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:2")
    monkeypatch.setenv("PITLANE_TASKS_EMULATOR_HOST", "127.0.0.1:3")
    monkeypatch.setenv("PITLANE_F1_STATIC_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PITLANE_F1_SCHEDULE_URL", "http://127.0.0.1:9/f1schedule")
    monkeypatch.setenv("PITLANE_DATA_DIR", str(tmp_path))
    s = load_settings()
    assert (s.project, s.firestore_emulator_host, s.pubsub_emulator_host) == (
        "demo-x",
        "127.0.0.1:1",
        "127.0.0.1:2",
    )
    assert s.tasks_emulator_host == "127.0.0.1:3"
    assert s.f1_static_url == "http://127.0.0.1:9"
    assert s.f1_schedule_folder == "http://127.0.0.1:9/f1schedule/"
    assert s.data_dir == tmp_path


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("PITLANE_ENV", "bogus", "PITLANE_ENV='bogus'"),
        ("PITLANE_LOG_LEVEL", "LOUD", "PITLANE_LOG_LEVEL='LOUD'"),
        ("PITLANE_OPENF1_URL", "ftp://x", "PITLANE_OPENF1_URL='ftp://x'"),
        ("PITLANE_DATA_DIR", "/no/such/dir", "does not exist"),
        ("PITLANE_HTTP_TIMEOUT_S", "-1", "PITLANE_HTTP_TIMEOUT_S"),
        ("PITLANE_OPENF1_ULR", "http://x", "unknown setting PITLANE_OPENF1_ULR"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_problem(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, needle: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert needle in message
    assert "\n" not in message


def test_prod_refuses_emulators(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PITLANE_ENV", "prod")
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    with pytest.raises(ConfigError, match="emulators"):
        load_settings()
