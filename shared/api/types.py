"""Field types whose JSON Schema pydantic cannot infer right."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import WithJsonSchema

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
