"""The checked-in JSON Schema and TypeScript of the listened-to documents match the models."""

from __future__ import annotations

import json

import jsonschema_rs

from shared.api.doc_schemas import DEFAULT_FOLDER, DOCUMENTS, render


def test_checked_in_files_match_the_models() -> None:
    rendered = render()
    stale = [name for name, text in rendered.items() if (DEFAULT_FOLDER / name).read_text() != text]
    assert not stale, f"regenerate docs/schemas (see shared/api/doc_schemas.py): {stale}"
    extra = {p.name for p in DEFAULT_FOLDER.iterdir()} - set(rendered)
    assert not extra, f"files no model generates: {extra}"


def test_every_document_has_a_schema_and_an_interface() -> None:
    ts = render()["firestore.d.ts"]
    for doc in DOCUMENTS:
        schema = json.loads(render()[f"{doc.name}.schema.json"])
        jsonschema_rs.meta.validate(schema)  # a valid draft 2020-12 schema
        assert f"export interface {doc.name} {{" in ts
        for field in doc.timestamps:
            assert f"  {field}" in ts.split(f"export interface {doc.name} ")[1].split("\n}")[0]
    assert "start_utc: Timestamp;" in ts and "updated_utc?: Timestamp | null;" in ts


def test_a_written_lap_validates_and_a_wrong_one_does_not() -> None:
    schema = json.loads(render()["LapDoc.schema.json"])
    ok = {"session_id": "2018_azerbaijan_grand_prix_r", "driver_number": "44", "lap_number": 3,
          "lap_time_ms": 105_123, "completed_utc": "2018-04-29T12:20:00Z"}  # fmt: skip
    assert jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(ok)
    bad = {**ok, "lap_number": 0}
    assert not jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(bad)
