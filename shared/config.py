"""Settings: the only place in Pitlane that reads the environment.

Every setting has the ``PITLANE_`` prefix except the names Google's clients already use
(``GOOGLE_CLOUD_PROJECT``, ``FIRESTORE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST``). Defaults point
at the real services; the local stack and the tests point the URL settings at the upstream server
over ``../shared/data``.

URL settings are server roots: code appends the service's own paths (``/static/...`` for the F1
archive, ``/signalrcore`` for the live feed, ``/v1/...`` for OpenF1, ``/ergast/f1/...`` for
Jolpica). ``f1_schedule_url`` is the exception: it is the folder holding ``schedule_<year>.json``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError

ENV_PREFIX = "PITLANE_"
# The shared data folder sits beside the project checkout (``<root>/../shared/data``).
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_DATA_DIR = _PROJECT_ROOT.parent / "shared" / "data"


def _default_data_dir() -> Path | None:
    return _DEFAULT_DATA_DIR if _DEFAULT_DATA_DIR.is_dir() else None


class Settings(BaseSettings):
    """Pitlane's configuration, validated once at cold start."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    env: Literal["local", "test", "staging", "prod"] = "local"
    project: str = Field(
        "pitlane-local", validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "PITLANE_PROJECT")
    )
    region: str = "europe-west1"

    firestore_emulator_host: str | None = Field(None, validation_alias="FIRESTORE_EMULATOR_HOST")
    pubsub_emulator_host: str | None = Field(None, validation_alias="PUBSUB_EMULATOR_HOST")
    tasks_emulator_host: str | None = None
    scheduler_emulator_url: str | None = None
    # Where Cloud Tasks (and callers) reach each function: by default the 2nd-gen URL
    # https://<region>-<project>.cloudfunctions.net/<name>; the local stack sets
    # PITLANE_FUNCTION_URLS='{"record_live_timing": "http://127.0.0.1:8712", ...}'.
    function_urls: dict[str, str] = Field(default_factory=dict)

    f1_static_url: str = "https://livetiming.formula1.com"
    f1_live_url: str = "https://livetiming.formula1.com"
    openf1_url: str = "https://api.openf1.org"
    jolpica_url: str = "https://api.jolpi.ca"
    f1_schedule_url: str = "https://raw.githubusercontent.com/theOehrly/f1schedule/master/"
    multiviewer_url: str = "https://api.multiviewer.app"  # circuit info (FastF1's source)
    slack_webhook_url: SecretStr | None = None  # ops: gap-import runs (notify_import_events); off when unset

    data_dir: Path | None = Field(default_factory=_default_data_dir)
    cache_dir: Path = Path("/tmp/pitlane-cache")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    http_timeout_s: float = Field(20.0, gt=0, le=600)
    # OpenF1: its published limits without a sponsor token (raise them with a paid-tier token,
    # sent as a bearer token); cache entries, and how long a finished session's data is reused.
    openf1_rate_per_s: float = Field(3.0, gt=0, le=1000)
    openf1_rate_per_min: int = Field(30, ge=1, le=60_000)
    openf1_token: SecretStr | None = None
    openf1_cache_size: int = Field(256, ge=0, le=100_000)
    openf1_cache_ttl_s: float = Field(3600.0, ge=0)
    # Notifications (shared.services.notify): tries per channel delivery and the first backoff
    # (seconds, doubling, at most 8 s); one webhook call's timeout (seconds). A PEM public key
    # whose signed Firebase-style ID tokens the API trusts instead of Google's (tests and the
    # local stack; refused with env=prod, see shared.auth).
    notify_retry_attempts: int = Field(4, ge=1, le=10)
    notify_retry_backoff_s: float = Field(1.0, ge=0, le=60)
    notify_webhook_timeout_s: float = Field(5.0, gt=0, le=60)
    auth_test_public_key: str | None = None
    # Import quotas, calls an hour per upstream host, shared by every instance through the Firestore
    # ledger (shared.imports.quota): Jolpica publishes 200 an hour (FastF1 goes through it); the
    # other hosts (F1 archive, f1schedule, MultiViewer) publish none, 500 keeps imports polite.
    quota_jolpica_per_hour: int = Field(200, ge=0, le=100_000)
    quota_default_per_hour: int = Field(500, ge=0, le=100_000)
    # Predictions: the pre-race model artefact (JSON), a local path or gs://bucket/object; unset:
    # <cache_dir>/models/prerace.json, trained from <data_dir>/history on first use (local, test).
    predict_model_uri: str | None = None
    # The read API (functions/api.py): browser origins allowed by CORS (JSON list of
    # "https://host[:port]", or ["*"]; none by default), the largest request body accepted (bytes,
    # larger is 413), answers kept per instance, and the size from which answers are gzipped.
    api_cors_origins: list[str] = Field(default_factory=list)
    api_max_body_bytes: int = Field(65_536, ge=1_024, le=10_485_760)
    api_cache_entries: int = Field(2_048, ge=0, le=100_000)
    api_gzip_min_bytes: int = Field(1_024, ge=0)

    @field_validator("api_cors_origins", mode="after")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        import re

        for origin in value:
            if origin != "*" and not re.match(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$", origin):
                raise ValueError(f"an origin is scheme://host[:port] or *, got {origin!r}")
        return value

    @field_validator(
        "f1_static_url",
        "f1_live_url",
        "openf1_url",
        "jolpica_url",
        "f1_schedule_url",
        "multiviewer_url",
        mode="after",
    )
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("data_dir", mode="after")
    @classmethod
    def _data_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"data dir {str(value)!r} does not exist")
        return value

    @model_validator(mode="after")
    def _emulators_only_off_prod(self) -> Settings:
        if self.env == "prod" and (self.firestore_emulator_host or self.pubsub_emulator_host):
            raise ValueError("env=prod must not point at emulators")
        return self

    @property
    def uses_emulators(self) -> bool:
        return bool(self.firestore_emulator_host or self.pubsub_emulator_host)

    @property
    def f1_schedule_folder(self) -> str:
        return self.f1_schedule_url if self.f1_schedule_url.endswith("/") else self.f1_schedule_url + "/"

    def function_url(self, name: str) -> str:
        """The HTTP URL of the deployed (or local) function ``name``."""
        return (
            self.function_urls.get(name) or f"https://{self.region}-{self.project}.cloudfunctions.net/{name}"
        )

    @property
    def require_data_dir(self) -> Path:
        if self.data_dir is None:
            raise ConfigError("PITLANE_DATA_DIR is not set and ../shared/data does not exist")
        return self.data_dir


def _env_name(field: str) -> str:
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return ENV_PREFIX + field.upper()


def _unknown_prefixed(environ: dict[str, str]) -> list[str]:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    known |= {_env_name(name) for name in Settings.model_fields}
    return sorted(k for k in environ if k.startswith(ENV_PREFIX) and k not in known)


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings, turning any problem into a one-line ``ConfigError``.

    A ``PITLANE_*`` variable that no setting has is an error too: a typo must not silently fall
    back to a default that talks to a real service.
    """
    unknown = _unknown_prefixed(dict(os.environ))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]} (known: PITLANE_ + one of the README's settings)")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        name = _env_name(field) if field in Settings.model_fields else field
        value = err.get("input")
        shown = f"={value!r}" if isinstance(value, str | int | float | Path) else ""
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid setting {name}{shown}: {msg}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, built once (cold start) and then reused."""
    return load_settings()
