"""The ``/api/v1`` names the seed plan gives the frontend: the current session, and the live
timing of the session at a circuit."""

from __future__ import annotations

from functions.routes import reads
from functions.routes.sessions import current
from functions.routes.table import TABLE, CircuitPath, db
from shared.api.models import LiveSession, SessionOut
from shared.api.router import LIVE, Call
from shared.errors import NotFoundError


@TABLE.get("/api/v1/session/current", response=SessionOut, cache=LIVE, tags=["v1"], errors=(404,))
def v1_current_session(call: Call) -> SessionOut:
    """The session under way now, else the next one to start (as ``/api/sessions/current``)."""
    return current(call)


@TABLE.get(
    "/api/v1/session/{circuit_id}/live", response=LiveSession, path=CircuitPath, cache=LIVE, tags=["v1"]
)
def v1_circuit_live(call: Call) -> LiveSession:
    """The live timing of the session at a circuit: the one under way, else the latest started.

    ``live`` is null when the session has started but its feed has written nothing yet."""
    from shared.stores import session_reads

    entry = reads.circuit(call, call.path.circuit_id)
    started: list[SessionOut] = []
    for meeting in reads.meetings_at(call, entry):
        if meeting.start_utc <= call.now:
            started += [
                s for s in reads.sessions_of(call, meeting) if s.start_utc and s.start_utc <= call.now
            ]
    if not started:
        raise NotFoundError(f"no session has started at {entry.circuit_id!r}")
    chosen = max(started, key=lambda s: s.start_utc)  # type: ignore[arg-type,return-value]
    tower = session_reads.get_tower(db(call), chosen.session_id)
    return LiveSession(circuit_id=entry.circuit_id, session=chosen, live=tower)
