"""OpenF1 query filters, pure: build the raw query string OpenF1 reads.

OpenF1 filters are not ``key=value`` pairs: each ``&``-separated part is ``<field><op><value>``
with ``op`` one of ``=``, ``>``, ``<``, ``>=``, ``<=`` (``lap_number>=10``, ``date>2024-...``).
Several ``=`` values of one field are OR'ed; every other condition is AND'ed. So this module builds
the raw string itself instead of handing a dict to an HTTP library.

Values are written the way OpenF1 casts them back: ``true``/``false`` for booleans, plain numbers,
ISO 8601 for times. A ``datetime`` is sent in UTC with an explicit ``+00:00`` (a naive one is taken
as UTC, as OpenF1 does); a ``date`` (no time) means the whole UTC day on OpenF1's side
(``date_start=2024-09-22`` matches that day). Values are percent-encoded (``+`` in an offset
becomes ``%2B``, else it would decode to a space); field names and operators stay raw. On the wire
an HTTP client may further write ``>``/``<`` as ``%3E``/``%3C`` (as browsers do); OpenF1 decodes
both forms alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, get_args
from urllib.parse import quote

Op = Literal["=", ">", "<", ">=", "<="]
Scalar = str | int | float | bool | datetime | date
OPERATORS: tuple[str, ...] = get_args(Op)
# Characters left as they are in a value: unreserved ones plus ":" (legal in a query, and
# OpenF1's own examples write times with raw colons).
_SAFE = "-._~:"


def encode_value(value: Scalar) -> str:
    """One value as OpenF1 expects it, percent-encoded for a query string."""
    if isinstance(value, bool):  # before int: bool is an int
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        text = aware.isoformat()
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as an OpenF1 filter value")
    return quote(text, safe=_SAFE)


@dataclass(frozen=True)
class Filter:
    """``field op value``; with several ``values`` (only for ``=``) any of them matches (OR)."""

    field: str
    op: Op
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if not self.field or not self.field.replace("_", "").isalnum():
            raise ValueError(f"invalid OpenF1 field name {self.field!r}")
        if self.op not in OPERATORS:
            raise ValueError(f"invalid operator {self.op!r}; expected one of {', '.join(OPERATORS)}")
        if not self.values:
            raise ValueError(f"filter on {self.field!r} has no value")
        if len(self.values) > 1 and self.op != "=":
            raise ValueError(f"several values (OR) only work with '=', not {self.op!r}")
        for value in self.values:
            encode_value(value)  # fail at construction, not at request time

    def parts(self) -> list[str]:
        """The raw query-string parts, e.g. ``["driver_number=1", "driver_number=4"]``."""
        return [f"{self.field}{self.op}{encode_value(v)}" for v in self.values]

    def __str__(self) -> str:
        return "&".join(self.parts())


def q(field: str, op: Op, value: Scalar | Iterable[Scalar]) -> Filter:
    """A filter: ``q("lap_number", ">=", 10)``, or OR of values: ``q("driver_number", "=", [1, 4])``."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        values: tuple[Scalar, ...] = (value,)  # type: ignore[assignment]
    else:
        values = tuple(value)
    return Filter(field=field, op=op, values=values)


def between(field: str, start: Scalar, end: Scalar, *, inclusive_end: bool = False) -> tuple[Filter, Filter]:
    """``start <= field < end`` (``<= end`` when ``inclusive_end``): a date or number range."""
    return q(field, ">=", start), q(field, "<=" if inclusive_end else "<", end)


FilterArg = Filter | Iterable[Filter]


def flatten(filters: Iterable[FilterArg]) -> list[Filter]:
    """Filters given one by one or in groups (as :func:`between` returns them), in order."""
    out: list[Filter] = []
    for item in filters:
        if isinstance(item, Filter):
            out.append(item)
        else:
            out.extend(flatten(item))
    return out


def build_query(*filters: FilterArg, csv: bool = False) -> str:
    """The raw query string (no ``?``): parts in the order given, ``csv=true`` last if asked."""
    parts = [part for flt in flatten(filters) for part in flt.parts()]
    if csv:
        parts.append("csv=true")
    return "&".join(parts)


def single_value(filters: Iterable[FilterArg], field: str) -> Scalar | None:
    """The value of the one ``field=value`` condition, or ``None`` if there is none or several."""
    found = [f for f in flatten(filters) if f.field == field]
    if len(found) == 1 and found[0].op == "=" and len(found[0].values) == 1:
        return found[0].values[0]
    return None
