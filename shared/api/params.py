"""Parameter types and readable validation messages.

Path, query and body parameters are pydantic models; a :class:`~pydantic.ValidationError` becomes
one :class:`~shared.api.problem.ParamIssue` per field, worded for a person: "query parameter 'lap'
must be between 1 and 200, got '0'". A field's ``description`` names what it expects ("a car number
(1 to 3 digits)"), and is reused when a pattern does not match.

Query integers are strict (``"12"``, not ``"12.0"`` or ``" 12"``): what the OpenAPI document calls
an integer is the only thing accepted.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from shared.api.problem import ParamIssue

_INT = re.compile(r"^[+-]?[0-9]{1,12}$")


def _strict_int(value: Any) -> Any:
    if isinstance(value, str) and not _INT.match(value):
        raise ValueError("must be an integer")
    return value


# Put it after the bounds: ``Annotated[int, Ge(1), Le(200), STRICT]`` (bounds before the validator
# stay ``minimum``/``maximum`` in the JSON Schema).
STRICT = BeforeValidator(_strict_int)


class Params(BaseModel):
    """Base of path and query parameter models: unknown names are ignored, values are frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class NoParams(Params):
    pass


@lru_cache(maxsize=256)
def _bounds(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """A field's ``minimum`` and ``maximum`` as its JSON Schema states them (optional ones too)."""
    prop = model.model_json_schema().get("properties", {}).get(name, {})
    for variant in [prop, *prop.get("anyOf", ())]:
        if "minimum" in variant or "maximum" in variant:
            return variant.get("minimum"), variant.get("maximum")
    return None, None


def _message(model: type[BaseModel], name: str, err: Any) -> str:
    kind = err["type"]
    field = model.model_fields.get(name)
    expects = field.description if field is not None else None
    if kind == "missing":
        return "is required"
    if kind in ("int_parsing", "int_type", "int_from_float") or (
        kind == "value_error" and "integer" in str(err.get("msg", ""))
    ):
        return "must be an integer"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = _bounds(model, name)
        if lo is not None and hi is not None:
            return f"must be between {lo} and {hi}"
        return str(err["msg"]).lower()
    if kind in ("string_pattern_mismatch", "string_too_long", "string_too_short") and expects:
        return f"must be {expects}"
    if kind in ("literal_error", "enum"):
        return "must be " + str(err.get("ctx", {}).get("expected", "one of the listed values"))
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    return msg if not expects or msg.startswith("must") else f"must be {expects} ({msg})"


def issues(model: type[BaseModel], exc: ValidationError, where: str, raw: dict[str, Any]) -> list[ParamIssue]:
    """One issue per invalid field, with the value as sent."""
    out: list[ParamIssue] = []
    for err in exc.errors():
        name = (
            ".".join(str(p) for p in err["loc"])
            if where == "body"
            else str(err["loc"][0])
            if err["loc"]
            else ""
        )
        message = _message(model, name, err)
        if name in raw and err["type"] != "missing":
            message += f", got {str(raw[name])[:80]!r}"
        out.append(ParamIssue(where=where, name=name, message=message))  # type: ignore[arg-type]
    return out


def describe(issue: ParamIssue) -> str:
    """``query parameter 'lap' must be between 1 and 200, got '0'``."""
    if issue.where == "body":
        return f"body field {issue.name!r} {issue.message}" if issue.name else f"body {issue.message}"
    noun = {"path": "path parameter", "query": "query parameter", "header": "header"}[issue.where]
    return f"{noun} {issue.name!r} {issue.message}"


def split_list(value: str, *, allowed: set[str], what: str) -> list[str]:
    """A comma-separated list of known codes, de-duplicated in order (``"s,r"`` -> ``["s", "r"]``)."""
    items = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        raise ValueError(f"{what}: unknown {unknown[0]!r}" if unknown else f"{what}: none given")
    return list(dict.fromkeys(items))
