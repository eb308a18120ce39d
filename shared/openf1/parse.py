"""OpenF1 records (raw JSON from the transport) -> models; bad rows are skipped and counted.

Policy (as in FastF1): one malformed row must not lose a whole response. A row that is not an
object, lacks a key field or has a value of the wrong type is skipped; the count and the first
error are logged as one warning per call, and returned in :class:`Parsed` for callers that track
data quality. Nothing here does I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from shared.openf1.models import ENDPOINT_MODELS, OpenF1Record

log = logging.getLogger(__name__)
T = TypeVar("T", bound=OpenF1Record)


@dataclass
class Parsed(Generic[T]):
    """The rows that parsed, in input order, and what was skipped (index, reason)."""

    items: list[T] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)


def _reason(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "row"
    return f"{where}: {err['msg']}"


def parse_as(model: type[T], records: Iterable[Any], *, source: str = "") -> Parsed[T]:
    """Validate each record as ``model``; skip and count the ones that do not validate."""
    out: Parsed[T] = Parsed()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            out.skipped.append((index, f"not an object ({type(record).__name__})"))
            continue
        try:
            out.items.append(model.model_validate(record))
        except ValidationError as exc:
            out.skipped.append((index, _reason(exc)))
    if out.skipped:
        first_index, first_reason = out.skipped[0]
        log.warning(
            "openf1 %s: skipped %d of %d rows (first: row %d, %s)",
            source or model.__name__,
            len(out.skipped),
            len(out.items) + len(out.skipped),
            first_index,
            first_reason,
        )
    return out


def parse(endpoint: str, records: Iterable[Any]) -> Parsed[OpenF1Record]:
    """Parse the records of ``/v1/<endpoint>`` with that endpoint's model."""
    try:
        model = ENDPOINT_MODELS[endpoint]
    except KeyError:
        raise ValueError(f"unknown OpenF1 endpoint {endpoint!r}") from None
    return parse_as(model, records, source=endpoint)
