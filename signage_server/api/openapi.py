"""The OpenAPI 3.1 document of kiosk API v1, built from the pydantic models in ``schemas``.

Paths are written here by hand (they are few); every schema comes from the models the views
validate with, so the document cannot say something the server does not check.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from flask import Response, current_app, jsonify
from pydantic.json_schema import models_json_schema

from . import bp, schemas

REF = "#/components/schemas/{model}"
#: Media files are served with the MIME type they were imported as (video/mp4, image/png, ...).
MEDIA_TYPES: dict[str, dict[str, Any]] = {"video/*": {"schema": {}}, "image/*": {"schema": {}}}
MODELS: tuple[type[schemas.BaseModel], ...] = (
    schemas.EnrollRequest, schemas.EnrollResponse, schemas.Batch, schemas.CheckInRecord,
    schemas.PlayRecord, schemas.BatchResponse, schemas.HeartbeatRequest,
    schemas.HeartbeatResponse, schemas.Manifest, schemas.ErrorResponse,
    schemas.PersonalFields,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "malformed body", 401: "missing, unknown or revoked token",
            403: "another venue", 409: "code unknown, used or expired",
            413: "body or batch too large", 415: "not application/json"}
    return {str(c): _json("ErrorResponse", text[c]) for c in codes}


def _batch_path(what: str) -> dict[str, Any]:
    return {"post": {
        "summary": f"Upload a batch of {what} (idempotent by client_uuid)",
        "security": [{"kiosk": []}],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": _ref("Batch")}}},
        "responses": {"200": _json("BatchResponse", "one result per record"),
                      **_errors(400, 401, 403, 413, 415)},
    }}


@cache
def document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "validation") for m in MODELS], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Signage kiosk API", "version": "1.0.0",
                 "description": "The contract between kiosks and the management server. "
                                "See docs/api.md."},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"kiosk": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/v1/enroll": {"post": {
                "summary": "Trade a one-time enrollment code for a kiosk token",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("EnrollRequest")}}},
                "responses": {"200": _json("EnrollResponse", "enrolled"),
                              **_errors(400, 409, 413, 415)},
            }},
            "/api/v1/kiosk/manifest": {"get": {
                "summary": "What this kiosk shows and how it records",
                "security": [{"kiosk": []}],
                "parameters": [{"name": "If-None-Match", "in": "header", "required": False,
                                "schema": {"type": "string"}}],
                "responses": {"200": _json("Manifest", "the manifest; ETag header"),
                              "304": {"description": "unchanged since the given ETag"},
                              **_errors(401)},
            }},
            "/api/v1/checkins": _batch_path("check-ins"),
            "/api/v1/plays": _batch_path("proof-of-play records"),
            "/api/v1/heartbeat": {"post": {
                "summary": "Report health and status, optionally with a screenshot",
                "security": [{"kiosk": []}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("HeartbeatRequest")}}},
                "responses": {"200": _json("HeartbeatResponse", "server time and version"),
                              **_errors(400, 401, 413, 415)},
            }},
            "/media/{sha256}": {"get": {
                "summary": "A media file by its hash; Range supported",
                "parameters": [{"name": "sha256", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
                "responses": {
                    "200": {"description": "the file, as the MIME type it was imported as",
                            "content": MEDIA_TYPES},
                    "206": {"description": "the requested range", "content": MEDIA_TYPES},
                    "304": {"description": "unchanged"},
                    "404": _json("ErrorResponse", "no such media"),
                    "416": _json("ErrorResponse", "range not satisfiable"),
                },
            }},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(with_limits(document(), current_app.config))


def with_limits(doc: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The document with this server's configured limits (``MAX_BATCH_RECORDS``)."""
    batch = doc["components"]["schemas"]["Batch"]
    records = {**batch["properties"]["records"], "maxItems": int(config["MAX_BATCH_RECORDS"])}
    schemas = {**doc["components"]["schemas"],
               "Batch": {**batch, "properties": {**batch["properties"], "records": records}}}
    return {**doc, "components": {**doc["components"], "schemas": schemas}}
