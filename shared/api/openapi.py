"""The OpenAPI 3.1 document, generated from the route table and its pydantic models.

Schemas are pydantic's JSON Schema (draft 2020-12, which OpenAPI 3.1 uses as is), in
serialization mode (what the API sends), under ``components/schemas``. Every operation documents
its 2xx answer, ``304`` for cacheable GETs, and the problem answers (RFC 9457) it can give.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.api.problem import PROBLEM_MEDIA_TYPE, Problem, title
from shared.api.router import JSON, Route, RouteTable
from shared.api.types import LocalAwareJsonSchema

REF = "#/components/schemas/{model}"
_ALWAYS = (405, 413)  # any path: a method it does not take, a body too large


def _param_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the ``null`` branch of an optional value (absent, not null)."""
    variants = prop.get("anyOf")
    if variants:
        kept = [v for v in variants if v.get("type") != "null"]
        if len(kept) == 1:
            merged = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
            return {**kept[0], **merged}
    return {k: v for k, v in prop.items() if k != "default" or v is not None}


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": {k: v for k, v in _param_schema(prop).items() if k not in ("title", "description")},
        }
        if prop.get("description"):
            param["description"] = prop["description"]
        if prop.get("examples"):
            param["example"] = prop["examples"][0]
        out.append(param)
    return out


def _require_discriminators(schemas: dict[str, Any]) -> None:
    """A tagged union's tag is required in each variant: pydantic needs it to pick one, but its
    JSON Schema leaves a tag with a default (``type: "webhook"``) optional."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found = node.get("discriminator")
            if isinstance(found, dict):
                for ref in (found.get("mapping") or {}).values():
                    target = schemas.get(str(ref).rsplit("/", 1)[-1])
                    if target is not None and found["propertyName"] not in target.get("required", []):
                        target["required"] = [*target.get("required", []), found["propertyName"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schemas)


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": title(status),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def document(table: RouteTable, *, title_: str, version: str, description: str = "") -> dict[str, Any]:
    models: list[type[BaseModel]] = [Problem]
    for route in table.routes:
        if route.response is not None and route.response not in models:
            models.append(route.response)
    gen = LocalAwareJsonSchema
    refs, defs = models_json_schema(
        [(m, "serialization") for m in models], ref_template=REF, schema_generator=gen
    )
    body_refs, body_defs = models_json_schema(
        [(r.body_model, "validation") for r in table.routes if r.body_model is not None],
        ref_template=REF,
        schema_generator=gen,
    )
    schemas = {**defs.get("$defs", {}), **body_defs.get("$defs", {})}
    _require_discriminators(schemas)
    paths: dict[str, dict[str, Any]] = {}
    for route in table.routes:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route, refs, body_refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title_, "version": version, "description": description},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "firebase": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "a Firebase Auth ID token of the signed-in user",
                }
            },
        },
    }


def _operation(route: Route, refs: dict[Any, Any], body_refs: dict[Any, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": route.summary}
    if route.status == 204:
        pass  # no content
    elif route.response is not None:
        ok["content"] = {route.media_type: {"schema": refs[(route.response, "serialization")]}}
    else:
        ok["content"] = {
            route.media_type: {"schema": {"type": "object" if route.media_type == JSON else "string"}}
        }
    headers: dict[str, Any] = {"Cache-Control": {"schema": {"type": "string"}}}
    if route.method == "GET":
        headers["ETag"] = {"schema": {"type": "string"}}
    ok["headers"] = headers
    responses: dict[str, Any] = {str(route.status): ok}
    if route.method == "GET":
        responses["304"] = {"description": "Not Modified: the representation matches If-None-Match"}
    for status in sorted({*route.errors, *_ALWAYS, *((415,) if route.body_model else ())}):
        responses[str(status)] = _problem(status)
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": list(route.tags),
        "parameters": _parameters(route.path_model, "path") + _parameters(route.query_model, "query"),
        "responses": responses,
    }
    if route.description:
        op["description"] = route.description
    if route.auth:
        op["security"] = [{"firebase": []}]
    if route.body_model is not None:
        op["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": body_refs[(route.body_model, "validation")]}},
        }
    return op
