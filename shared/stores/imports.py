"""Firestore side of session imports.

* ``imports/{session_id}``: ``{"types": {"laps": "complete", ...}, "status": ..., "updated_utc": ...}``
  (read back by :meth:`shared.imports.gaps.SessionHoldings.from_status_doc`); a type imported
  before keeps its state unless this import tried it again;
* laps, race control and weather: the live pipeline's documents (paths and serialisation from
  ``shared.stores.session_store``), written only when the stored content differs;
* ``drivers/{n}``: only the classification fields are set on an existing row (the live
  pipeline's other fields stay);
* ``circuit_layouts/{key}_{year}``: MultiViewer's circuit info for one season;
* ``sessions/{id}``: created from FastF1's identity fields only when absent (the API serves a
  session only if it exists; the schedule sync normally created it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from shared.imports.circuit import COLLECTION as CIRCUITS
from shared.imports.circuit import CircuitLayout, layout_id
from shared.imports.gaps import DataType, ImportState, SessionHoldings
from shared.stores.session_store import BATCH, driver_path, fingerprint, session_path, to_document
from shared.timing.models import DriverRow, SessionLive

if TYPE_CHECKING:
    from google.cloud import firestore

IMPORTS = "imports"


def status_path(session_id: str) -> str:
    return f"{IMPORTS}/{session_id}"


def read_holdings(db: firestore.Client, session_id: str) -> SessionHoldings:
    """What ``imports/{session_id}`` says is held (``stored``: whether ``sessions/{id}`` exists)."""
    status, session = db.document(status_path(session_id)), db.document(session_path(session_id))
    snaps = {s.reference.path: s for s in db.get_all([status, session])}
    doc = snaps[status.path].to_dict() if snaps[status.path].exists else None
    return SessionHoldings.from_status_doc(session_id, doc, stored=snaps[session.path].exists)


def write_status(
    db: firestore.Client,
    session_id: str,
    *,
    types: Mapping[DataType, ImportState],
    status: ImportState,
    now: datetime,
) -> None:
    """Merge this import's type states into ``imports/{session_id}``; ``status`` is the session's
    overall state over every type the document now holds."""
    doc: dict[str, Any] = {
        "session_id": session_id,
        "types": {k.value: v for k, v in types.items()},
        "status": status,
        "updated_utc": now,
    }
    db.document(status_path(session_id)).set(doc, merge=True)


def _same(stored: dict[str, Any] | None, model: BaseModel) -> bool:
    if stored is None:
        return False
    try:
        return fingerprint(type(model).model_validate(stored)) == fingerprint(model)
    except ValidationError:
        return False  # an older shape: rewritten


def write_changed(db: firestore.Client, items: Sequence[tuple[str, BaseModel]]) -> int:
    """Write each ``(path, model)`` whose stored document differs; returns documents written."""
    written = 0
    for start in range(0, len(items), BATCH):
        chunk = dict(items[start : start + BATCH])
        stored = {
            s.reference.path: s.to_dict() for s in db.get_all([db.document(p) for p in chunk]) if s.exists
        }
        todo = [(p, m) for p, m in chunk.items() if not _same(stored.get(p), m)]
        if todo:
            batch = db.batch()
            for path, model in todo:
                batch.set(db.document(path), to_document(model))
            batch.commit()
        written += len(todo)
    return written


def write_results(
    db: firestore.Client, session_id: str, rows: Sequence[DriverRow], *, fields: Sequence[str]
) -> int:
    """Set ``fields`` of each ``drivers/{n}`` row (created when absent), keeping its other fields."""
    paths = {driver_path(session_id, r.driver_number): r for r in rows}
    snaps = {s.reference.path: s for s in db.get_all([db.document(p) for p in paths])}
    items: list[tuple[str, BaseModel]] = []
    for path, row in paths.items():
        snap = snaps.get(path)
        base = None
        if snap is not None and snap.exists:
            try:
                base = DriverRow.model_validate(snap.to_dict() or {})
            except ValidationError:
                base = None
        update = {f: getattr(row, f) for f in fields}
        items.append((path, base.model_copy(update=update) if base else row))
    return write_changed(db, items)


def ensure_session(db: firestore.Client, live: SessionLive) -> bool:
    """Create ``sessions/{id}`` from ``live`` when it does not exist; True if created."""
    ref = db.document(session_path(live.session_id))
    if ref.get().exists:
        return False
    ref.set(to_document(live), merge=True)
    return True


def circuit_layout_state(db: firestore.Client, circuit_key: int, year: int) -> ImportState | None:
    """``complete`` (stored), ``unavailable`` (MultiViewer has none: asked once per circuit and
    season, not once per session) or None (never asked)."""
    snap = db.document(f"{CIRCUITS}/{layout_id(circuit_key, year)}").get()
    if not snap.exists:
        return None
    return "unavailable" if (snap.to_dict() or {}).get("available") is False else "complete"


def write_circuit_layout(db: firestore.Client, layout: CircuitLayout) -> None:
    """``circuit_layouts/{key}_{year}``: the whole layout, replaced (it is one upstream answer)."""
    db.document(f"{CIRCUITS}/{layout.doc_id}").set({**layout.model_dump(mode="json"), "available": True})


def mark_circuit_unavailable(db: firestore.Client, circuit_key: int, year: int) -> None:
    db.document(f"{CIRCUITS}/{layout_id(circuit_key, year)}").set(
        {"circuit_key": circuit_key, "year": year, "available": False}
    )


# ---- season catalogues: what a season holds upstream, read once --------------------------------

CATALOGUES = "import_seasons"
RUNS = "import_runs"


def read_catalogue(db: firestore.Client, year: int) -> dict[str, Any] | None:
    snap = db.document(f"{CATALOGUES}/{year}").get()
    return snap.to_dict() if snap.exists else None


def write_catalogue(db: firestore.Client, year: int, doc: Mapping[str, Any]) -> None:
    db.document(f"{CATALOGUES}/{year}").set(dict(doc))


# ---- runs: one per planning pass; outcomes as sessions end; the summary sent once -------------


def create_run(db: firestore.Client, run_id: str, doc: Mapping[str, Any]) -> None:
    """``import_runs/{run_id}`` with the planned session ids (``planned``) and the run's facts."""
    db.document(f"{RUNS}/{run_id}").set(dict(doc))


def record_outcome(db: firestore.Client, run_id: str, outcome: Mapping[str, Any]) -> dict[str, Any] | None:
    """Set ``outcomes.{session_id}`` of the run (a redelivered task overwrites its own entry) and
    return the run document as it now is (None: no such run)."""
    ref = db.document(f"{RUNS}/{run_id}")
    if not ref.get().exists:
        return None
    ref.update({firestore_field_path("outcomes", str(outcome["session_id"])): dict(outcome)})
    snap = ref.get()
    return snap.to_dict() if snap.exists else None


def claim_summary(db: firestore.Client, run_id: str, now: datetime) -> bool:
    """True for exactly one caller per run: the one that sends the summary (create-if-absent)."""
    from google.api_core.exceptions import Conflict

    try:
        db.document(f"{RUNS}/{run_id}/summary/claim").create({"claimed_utc": now})
    except Conflict:
        return False
    return True


def firestore_field_path(*parts: str) -> str:
    from google.cloud.firestore_v1.field_path import FieldPath

    return str(FieldPath(*parts).to_api_repr())
