"""The OpenAPI 3.1 document, generated from the pydantic models each route module declares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.wire import ErrorBody

_ERROR_TEXT = {
    400: "Invalid request (MISSING_FIELD, VALIDATION_ERROR, INVALID_JSON, or a state error)",
    401: "Missing or invalid token (UNAUTHORIZED)",
    403: "Role not allowed (FORBIDDEN)",
    404: "Not found, or not yours (same answer for both)",
    413: "Body too large (PAYLOAD_TOO_LARGE)",
    429: "Rate limited (RATE_LIMITED); see Retry-After",
    503: "Storage unavailable (STORAGE_UNAVAILABLE)",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    responses: dict[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    auth: bool = True
    tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def build_openapi(operations: list[Operation], version: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for op in operations:
        models.update(m for m in (op.request, op.query, *op.responses.values()) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    keys, schema = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}", by_alias=True
    )
    refs = {model: keys[(model, "validation")] for model in ordered}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "summary": op.summary,
            "operationId": _operation_id(op),
            "tags": list(op.tags),
            "responses": {},
        }
        if op.auth:
            item["security"] = [{"bearer": []}]
        if op.request is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {"schema": refs[op.request]}}}
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(op.path)
        ]
        if op.query is not None:
            for name, prop in schema["$defs"][op.query.__name__].get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": False, "schema": prop})
        if parameters:
            item["parameters"] = parameters
        for status, model in op.responses.items():
            response: dict[str, Any] = {"description": "OK" if status < 300 else "Result"}
            if model is not None:
                response["content"] = {"application/json": {"schema": refs[model]}}
            item["responses"][str(status)] = response
        for status in op.errors:
            item["responses"][str(status)] = {
                "description": _ERROR_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": refs[ErrorBody]}},
            }
        item.update(op.extra)
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Interview server API", "version": version},
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation_id(op: Operation) -> str:
    slug = op.path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
    return f"{op.method.lower()}_{slug}"


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
