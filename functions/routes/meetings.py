"""Meetings (race weekends) of a season, in order, and one meeting by id or OpenF1 key."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import Field

from functions.routes.table import ID_PATTERN, TABLE, db
from shared.api.cursor import page
from shared.api.models import MeetingOut, MeetingPage, stored
from shared.api.params import STRICT, Params
from shared.api.router import SCHEDULE, Call
from shared.errors import NotFoundError

Season = Annotated[int, Ge(1950), Le(2100), STRICT]


class SeasonQuery(Params):
    season: Season | None = Field(None, description="a season (year); default: this year")
    limit: Annotated[int, Ge(1), Le(100), STRICT] = Field(50, description="meetings per page")
    cursor: Annotated[str, Field(max_length=512, description="from next_cursor of the previous page")] = ""


class MeetingPath(Params):
    meeting_id: Annotated[
        str,
        Field(
            pattern=ID_PATTERN,
            description="a meeting id ('2024_singapore_grand_prix') or OpenF1 meeting_key",
            examples=["2025_british_grand_prix"],
        ),
    ]


def season_meetings(call: Call, season: int) -> list[MeetingOut]:
    from shared.stores.schedule import list_meetings

    found = (stored(MeetingOut, doc) for doc in list_meetings(db(call), season))
    return [m for m in found if m is not None]


@TABLE.get(
    "/api/meetings", response=MeetingPage, query=SeasonQuery, cache=SCHEDULE, tags=["schedule"], errors=(400,)
)
def meetings(call: Call) -> MeetingPage:
    """The season's meetings by start (default: this year), in pages."""
    q = call.query
    season = q.season or call.now.year
    items, cursor = page(
        season_meetings(call, season),
        key=lambda m: (m.start_utc.isoformat(), m.meeting_id),
        limit=q.limit,
        cursor=q.cursor or None,
        filters={"season": season},
    )
    return MeetingPage(season=season, items=items, next_cursor=cursor)


@TABLE.get(
    "/api/meetings/{meeting_id}", response=MeetingOut, path=MeetingPath, cache=SCHEDULE, tags=["schedule"]
)
def meeting(call: Call) -> MeetingOut:
    """One meeting: name, place, format, first and last session, session ids, IANA zone."""
    from shared.stores.schedule import resolve_meeting

    found = stored(MeetingOut, resolve_meeting(db(call), call.path.meeting_id))
    if found is None:
        raise NotFoundError(f"no meeting {call.path.meeting_id!r}")
    return found
