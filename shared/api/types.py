"""Field types whose JSON Schema pydantic cannot infer right."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

LOCAL_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$"

# A wall-clock time with no offset ("2025-11-08T11:00:00", the circuit's local time). JSON Schema's
# ``date-time`` requires an offset, so the schema states the form as a pattern instead.
LocalDateTime = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$",
            "description": "wall-clock date and time without an offset",
        }
    ),
]


class LocalAwareJsonSchema(GenerateJsonSchema):
    """JSON Schema where only aware datetimes are ``date-time`` (RFC 3339 requires an offset); a
    plain ``datetime`` field (a wall clock such as ``start_local``) is a string of that form with
    the offset optional."""

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        if schema.get("tz_constraint") == "aware":
            return super().datetime_schema(schema)
        return {"type": "string", "pattern": LOCAL_PATTERN}
