"""Deterministic document ids.

Every source (f1schedule, the live-timing archive, OpenF1, Jolpica) names the same meeting and
session the same way, so re-imports overwrite instead of duplicating:

* meeting id: ``<year>_<event slug>``, e.g. ``2018_azerbaijan_grand_prix``;
* session id: ``<meeting id>_<session code>``, e.g. ``2018_azerbaijan_grand_prix_r``.

Session codes: ``fp1`` ``fp2`` ``fp3`` (practice), ``sq`` (sprint qualifying, called "Sprint
Shootout" in 2023), ``s`` (sprint), ``q`` (qualifying), ``r`` (race).
"""

from __future__ import annotations

import re
import unicodedata

from shared.errors import BadRequestError

SESSION_CODES: dict[str, str] = {
    "practice 1": "fp1",
    "practice 2": "fp2",
    "practice 3": "fp3",
    "qualifying": "q",
    "sprint qualifying": "sq",
    "sprint shootout": "sq",
    "sprint": "s",
    "race": "r",
}
_SESSION_ID = re.compile(r"^(19[5-9]\d|20\d\d)_[a-z0-9_]+_(fp[1-3]|sq|s|q|r)$")


def slug(text: str) -> str:
    """Lower-case ASCII with runs of anything else folded to one underscore."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")


def session_code(session_name: str) -> str:
    """The short code of a session name as F1 writes it (``"Practice 1"`` -> ``"fp1"``)."""
    try:
        return SESSION_CODES[session_name.strip().lower()]
    except KeyError:
        raise BadRequestError(f"unknown session name {session_name!r}") from None


def meeting_id(year: int, event_name: str) -> str:
    return f"{year}_{slug(event_name)}"


def session_id(year: int, event_name: str, session_name: str) -> str:
    return f"{meeting_id(year, event_name)}_{session_code(session_name)}"


def is_session_id(value: str) -> bool:
    return bool(_SESSION_ID.match(value))
