"""JSON Schema and TypeScript types of every Firestore document the frontend listens to, generated
from the writers' pydantic models and checked in under ``docs/schemas/``.

Each :class:`ListenedDocument` names its path, the model its writer stores, and the fields the
writer keeps as Firestore timestamps (top-level UTC instants: ``to_document`` in the stores): the
JSON Schema says ``"format": "date-time"`` with ``"x-firestore-type": "timestamp"`` for them (a
listener gets a ``Timestamp``; its ``toDate().toISOString()`` is that string), the TypeScript type
says ``Timestamp`` (``firebase/firestore``). Nested instants are ISO strings as written.

Regenerate after changing a model::

    .venv/bin/python -c "from shared.api.doc_schemas import write; write()"

``tests/unit/test_api_doc_schemas.py`` fails when the checked-in files differ from the models;
``tests/integration/test_api_stored_documents.py`` validates what the writers really store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel

from shared.api.models import SessionOut
from shared.api.types import LocalAwareJsonSchema
from shared.models.schedule import Meeting, Timeline
from shared.predict.documents import Prediction
from shared.races.mapping import TravelRace
from shared.timing.models import DriverRow, Lap, RaceControlMessage, TimingTower, WeatherSample

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "docs" / "schemas"


class RaceDocument(TravelRace):
    """``races/{race_id}``: the travel app's fields and the mapping ``pitlane races map`` adds."""

    openf1_meeting_key: int | None = None
    openf1_session_key: int | None = None
    mapping_status: str | None = None
    unmapped_reason: str | None = None
    mapping_input: str | None = None
    mapped_utc: AwareDatetime | None = None


@dataclass(frozen=True)
class ListenedDocument:
    name: str  # the TypeScript type's name
    path: str
    model: type[BaseModel]
    timestamps: tuple[str, ...]  # top-level fields stored as Firestore timestamps
    writer: str


DOCUMENTS: tuple[ListenedDocument, ...] = (
    ListenedDocument(
        "MeetingDoc", "meetings/{meeting_id}", Meeting, ("start_utc", "end_utc"), "sync_schedule"
    ),
    ListenedDocument(
        "WeekendTimelineDoc", "meetings/{meeting_id}/timeline/weekend", Timeline, (), "sync_schedule"
    ),
    ListenedDocument(
        "SessionDoc",
        "sessions/{session_id}",
        SessionOut,
        ("start_utc", "end_utc", "started_utc", "updated_utc"),
        "sync_schedule (schedule fields) and the live pipeline (live fields), merged",
    ),
    ListenedDocument(
        "TimingTowerDoc", "sessions/{session_id}/live/state", TimingTower, ("updated_utc",), "live"
    ),
    ListenedDocument("DriverRowDoc", "sessions/{session_id}/drivers/{driver_number}", DriverRow, (), "live"),
    ListenedDocument(
        "LapDoc", "sessions/{session_id}/laps/{driver_number}_{lap:03d}", Lap, ("completed_utc",), "live"
    ),
    ListenedDocument(
        "RaceControlDoc", "sessions/{session_id}/race_control/{n:04d}", RaceControlMessage, ("utc",), "live"
    ),
    ListenedDocument("WeatherDoc", "sessions/{session_id}/weather/{n:04d}", WeatherSample, ("utc",), "live"),
    ListenedDocument("RaceDoc", "races/{race_id}", RaceDocument, ("mapped_utc",), "pitlane races import/map"),
    ListenedDocument(
        "PredictionDoc", "predictions/{session_id}", Prediction, ("as_of_utc", "computed_utc"), "predict"
    ),
)


def _mark_timestamps(schema: dict[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        prop = schema.get("properties", {}).get(name)
        if prop is None:
            raise KeyError(f"{schema.get('title')}: no field {name!r}")
        for variant in [prop, *prop.get("anyOf", ())]:
            if variant.get("format") == "date-time":
                variant["x-firestore-type"] = "timestamp"


def json_schema(doc: ListenedDocument) -> dict[str, Any]:
    schema = doc.model.model_json_schema(mode="serialization", schema_generator=LocalAwareJsonSchema)
    _mark_timestamps(schema, doc.timestamps)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"https://pitlane.dev/schemas/{doc.name}.schema.json",
        "description": f"Firestore document {doc.path}, written by {doc.writer}.",
        **schema,
        "title": doc.name,
    }


# --- TypeScript ----------------------------------------------------------------------------------

_PRIMITIVE = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def _ts(schema: dict[str, Any], indent: str) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("x-firestore-type") == "timestamp":
        return "Timestamp"
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(_ts(s, indent) for s in schema[key]))
    kind = schema.get("type")
    if kind == "array":
        item = _ts(schema.get("items", {}), indent)
        return f"Array<{item}>"
    if kind == "object" or "properties" in schema:
        if "properties" not in schema:
            extra = schema.get("additionalProperties")
            value = _ts(extra, indent) if isinstance(extra, dict) else "unknown"
            return f"Record<string, {value}>"
        return _object(schema, indent)
    if isinstance(kind, list):
        return " | ".join(_PRIMITIVE.get(k, "unknown") for k in kind)
    return _PRIMITIVE.get(str(kind), "unknown")


def _object(schema: dict[str, Any], indent: str) -> str:
    required = set(schema.get("required", ()))
    inner = indent + "  "
    lines = ["{"]
    for name, prop in schema["properties"].items():
        if prop.get("description"):
            lines.append(f"{inner}/** {prop['description']} */")
        optional = "" if name in required else "?"
        lines.append(f"{inner}{name}{optional}: {_ts(prop, inner)};")
    lines.append(indent + "}")
    return "\n".join(lines)


def typescript() -> str:
    """One ``.d.ts`` module with an interface per listened document (and the types they use)."""
    out = [
        "// Generated from the writers' pydantic models by shared/api/doc_schemas.py: do not edit.",
        'import type { Timestamp } from "firebase/firestore";',
        "",
    ]
    seen: dict[str, str] = {}
    for doc in DOCUMENTS:
        schema = json_schema(doc)
        for name, sub in schema.get("$defs", {}).items():
            body = _ts(sub, "")
            if seen.setdefault(name, body) != body:
                raise ValueError(f"two shapes named {name}")
        out.append(f"/** {schema['description']} */")
        out.append(f"export interface {doc.name} {_object(schema, '')}")
        out.append("")
    for name, body in sorted(seen.items()):
        keyword = f"export interface {name} " if body.startswith("{") else f"export type {name} = "
        out.append(keyword + body + ("" if body.startswith("{") else ";"))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render() -> dict[str, str]:
    """File name -> content of every generated file."""
    files = {f"{d.name}.schema.json": json.dumps(json_schema(d), indent=2) + "\n" for d in DOCUMENTS}
    files["firestore.d.ts"] = typescript()
    return files


def write(folder: Path = DEFAULT_FOLDER) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
