"""The pre-race model artefact: train, save and load it (a local file, or Cloud Storage in production).

``settings.predict_model_uri`` names it: a local path, or ``gs://bucket/object``
(google-cloud-storage is imported only then). Unset: ``<cache_dir>/models/prerace.json``. The
artefact is the :class:`~shared.predict.model.PreRaceModel` as JSON: numbers only, no pickle, so
loading it needs neither scikit-learn nor trust in the file. :func:`model_for` loads it once per
process and URI (the ``predict`` function's first prediction pays for it); locally and in tests a
missing artefact is trained from ``<data_dir>/history`` and saved; in staging and production it is
an error (train it with ``pitlane predict train --out gs://...``).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from shared.config import Settings
from shared.errors import ConfigError
from shared.history.tables import HistoryTables, load_history
from shared.predict.features import FEATURES
from shared.predict.model import PreRaceModel
from shared.predict.training import DEFAULT_BOOTSTRAP, DEFAULT_START_YEAR, race_rows, train

log = logging.getLogger(__name__)
_lock = threading.Lock()
_models: dict[str, PreRaceModel] = {}


def artefact_uri(settings: Settings) -> str:
    return settings.predict_model_uri or str(settings.cache_dir / "models" / "prerace.json")


def last_complete_season(tables: HistoryTables) -> int:
    """The last season whose every race has results (the newest the model can be trained on)."""
    years = sorted(tables.races_by_season)
    for year in reversed(years):
        if all(tables.results_by_race.get(r.race_id) for r in tables.season(year)):
            return year
    raise ConfigError("no complete season in the history tables")


def train_model(
    tables: HistoryTables,
    *,
    trained_until: int | None = None,
    start_year: int = DEFAULT_START_YEAR,
    bootstrap: int = DEFAULT_BOOTSTRAP,
) -> PreRaceModel:
    until = trained_until if trained_until is not None else last_complete_season(tables)
    rows = [r for r in race_rows(tables, since=start_year) if r.race.year <= until]
    return train(rows, trained_until=until, start_year=start_year, bootstrap=bootstrap)


def save_model(model: PreRaceModel, uri: str) -> None:
    body = model.model_dump_json()
    if uri.startswith("gs://"):
        _blob(uri).upload_from_string(body, content_type="application/json")
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a model


def load_model(uri: str) -> PreRaceModel | None:
    """The artefact at ``uri``, or None when there is none."""
    if uri.startswith("gs://"):
        from google.api_core.exceptions import NotFound

        try:
            return PreRaceModel.model_validate_json(_blob(uri).download_as_bytes())
        except NotFound:
            return None
    path = Path(uri)
    return PreRaceModel.model_validate_json(path.read_bytes()) if path.is_file() else None


def model_for(settings: Settings) -> PreRaceModel:
    """The configured model, loaded once per process (trained and saved first when missing
    locally or in tests)."""
    uri = artefact_uri(settings)
    with _lock:
        if uri in _models:
            return _models[uri]
        model = load_model(uri)
        if model is not None and model.features != list(FEATURES):
            if settings.env not in ("local", "test"):
                raise ConfigError(f"the model at {uri} ({model.version}) predates the features; retrain it")
            model = None  # a development artefact from an older feature set: train again
        if model is None:
            if settings.env not in ("local", "test"):
                raise ConfigError(f"no pre-race model at {uri}; run `pitlane predict train --out {uri}`")
            log.info("training the pre-race model", extra={"json_fields": {"uri": uri}})
            model = train_model(load_history(settings.require_data_dir))
            save_model(model, uri)
        _models[uri] = model
        return model


def _blob(uri: str) -> Any:
    from google.cloud import storage  # type: ignore[attr-defined]

    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not bucket or not name:
        raise ConfigError(f"a Cloud Storage model URI is gs://bucket/object, got {uri!r}")
    return storage.Client().bucket(bucket).blob(name)
