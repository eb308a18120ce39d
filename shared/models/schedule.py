"""Meetings and sessions as stored in Firestore (``meetings/{meeting_id}``, ``sessions/{session_id}``).

Times: ``start_utc`` is timezone-aware UTC; ``start_local`` is the wall-clock time at the circuit
(naive ISO string as published by F1) and ``gmt_offset`` the circuit's offset from UTC then
(``"+04:00"``), so a client can show either without a time-zone database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventFormat = Literal["conventional", "sprint", "sprint_shootout", "sprint_qualifying", "testing"]


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Session(_Doc):
    session_id: str
    meeting_id: str
    year: int
    round: int = Field(ge=0)
    name: str = Field(description="F1's session name, e.g. 'Practice 1', 'Race'")
    code: str = Field(description="fp1, fp2, fp3, sq, s, q or r")
    start_utc: AwareDatetime
    start_local: datetime = Field(description="wall-clock start at the circuit (naive)")
    gmt_offset: str = Field(pattern=r"^[+-]\d\d:\d\d$")
    series: Literal["f1"] = "f1"
    published: bool = True


class Meeting(_Doc):
    meeting_id: str
    year: int
    round: int = Field(ge=0)
    name: str
    official_name: str
    country: str
    location: str
    event_format: EventFormat
    gmt_offset: str = Field(pattern=r"^[+-]\d\d:\d\d$")
    start_utc: AwareDatetime = Field(description="start of the first session")
    end_utc: AwareDatetime = Field(description="start of the last session")
    session_ids: list[str]
    published: bool = True
