"""Firestore reads that several route modules share: the reference data, meetings held at a
circuit, a meeting's sessions. Firestore's library is imported inside each function (see
``table.py``)."""

from __future__ import annotations

from typing import Any

from functions.routes.table import data_dir, db
from shared.api.models import MeetingOut, SessionOut, stored
from shared.api.router import Call
from shared.errors import NotFoundError
from shared.travel.circuits import CircuitEntry
from shared.travel.reference import Reference, load_reference


def reference(call: Call) -> Reference:
    return load_reference(data_dir(call))


def circuit_at(call: Call, location: str | None) -> CircuitEntry | None:
    """The catalogue's circuit for a meeting's place; ``None`` without reference data (a
    deployment with no data folder still serves schedules, calendars and travel plans)."""
    if call.deps.settings.data_dir is None:
        return None
    return reference(call).catalogue.for_location(location)


def circuit(call: Call, circuit_id: str) -> CircuitEntry:
    found = reference(call).catalogue.get(circuit_id)
    if found is None:
        raise NotFoundError(f"no circuit {circuit_id!r}")
    return found


def meetings_at(call: Call, entry: CircuitEntry) -> list[MeetingOut]:
    """Every stored meeting at the circuit (its ``location`` is one of the circuit's places), oldest
    first."""
    from google.cloud.firestore import FieldFilter

    from shared.stores.schedule import MEETINGS

    if not entry.places:
        return []
    query = db(call).collection(MEETINGS).where(filter=FieldFilter("location", "in", list(entry.places)))
    found = (stored(MeetingOut, snap.to_dict()) for snap in query.stream())
    return sorted((m for m in found if m is not None), key=lambda m: m.start_utc)


def sessions_of(call: Call, meeting: MeetingOut) -> list[SessionOut]:
    """The meeting's stored sessions, in start order (documents it cannot read are left out)."""
    from shared.stores.schedule import SESSIONS

    client = db(call)
    refs = [client.collection(SESSIONS).document(sid) for sid in meeting.session_ids]
    docs: list[Any] = (
        [stored(SessionOut, s.to_dict()) for s in client.get_all(refs) if s.exists] if refs else []
    )
    out = [d for d in docs if d is not None]
    return sorted(out, key=lambda s: (s.start_utc is None, s.start_utc))
