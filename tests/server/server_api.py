"""The kiosk API as tests call it, every answer checked against the OpenAPI document.

``Contract`` holds the document the server serves at ``/api/v1/openapi.json`` and checks a
response the way a kiosk depends on it: the path and method are in the document, the status
code is declared for them, the content type is one the document names, and a JSON body
validates (Draft 2020-12, ``$ref``s resolved through a ``referencing`` registry that holds the
whole document). ``Api`` and ``KioskApi`` run that check on every response, so each test
checks the contract as a side effect of using the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

DOCUMENT_URI = "urn:signage:openapi"
OPENAPI_PATH = "/api/v1/openapi.json"


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def _media_range_matches(actual: str, declared: str) -> bool:
    kind, _, sub = declared.partition("/")
    real_kind, _, real_sub = actual.partition("/")
    return kind in {"*", real_kind} and sub in {"*", real_sub}


class ContractViolation(AssertionError):
    """A response the OpenAPI document does not allow."""


@dataclass
class Contract:
    document: dict[str, Any]
    registry: Registry = field(init=False)  # type: ignore[type-arg]
    routes: list[tuple[re.Pattern[str], str]] = field(init=False)

    def __post_init__(self) -> None:
        resource = Resource(contents=self.document, specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.routes = [(re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$"),
                        p) for p in self.document["paths"]]

    def template(self, path: str) -> str:
        for pattern, template in self.routes:
            if pattern.match(path):
                return template
        raise ContractViolation(f"{path} is not a path of the contract")

    def validator(self, *location: str) -> Draft202012Validator:
        """A validator for the schema at ``location`` inside the document."""
        ref = {"$ref": f"{DOCUMENT_URI}#{_pointer(*location)}"}
        return Draft202012Validator(ref, registry=self.registry,
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def check(self, response: TestResponse) -> TestResponse:
        """Raise ContractViolation unless the document allows ``response``; return it."""
        self.check_exchange(response.request.method, response.request.path,
                            response.status_code, response.mimetype, response.get_data())
        return response

    def check_exchange(self, method: str, path: str, status_code: int, mimetype: str,
                       body: bytes) -> None:
        """The same check for a response that came from anywhere (a real server, say)."""
        where = f"{method.upper()} {path}"
        template = self.template(path)
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            raise ContractViolation(f"{where}: the contract has no such operation")
        status = str(status_code)
        declared = operation["responses"].get(status)
        if declared is None:
            raise ContractViolation(f"{where} answered {status}, not declared: "
                                    f"{body[:300]!r}")
        content = declared.get("content")
        if not content:
            if body:
                raise ContractViolation(f"{where} {status}: a body where none is declared")
            return
        media = next((m for m in content if _media_range_matches(mimetype, m)), None)
        if media is None:
            raise ContractViolation(f"{where} {status}: content type {mimetype!r} is not one "
                                    f"of {sorted(content)}")
        if mimetype == "application/json":
            location = ("paths", template, method.lower(), "responses", status, "content",
                        media, "schema")
            errors = sorted(self.validator(*location).iter_errors(json.loads(body)), key=str)
            if errors:
                raise ContractViolation(f"{where} {status}: {errors[0].message} at "
                                        f"{errors[0].json_path}")


@dataclass
class Api:
    """Anyone calling the kiosk API (no token): every response is checked."""

    client: FlaskClient
    contract: Contract

    def request(self, method: str, path: str, *, json_body: Any = None,
                data: bytes | str | None = None, content_type: str | None = None,
                headers: dict[str, str] | None = None) -> TestResponse:
        kwargs: dict[str, Any] = {"headers": headers or {}, "buffered": True}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = content_type or "application/json"
        elif content_type is not None:
            kwargs["content_type"] = content_type
        return self.contract.check(self.client.open(path, method=method, **kwargs))

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: Any, **headers: str) -> TestResponse:
        return self.request("POST", path, json_body=body, headers=headers)


@dataclass
class KioskApi:
    """A kiosk as the server sees it: its id, venue, token and a way to call the API."""

    client: FlaskClient
    kiosk_id: int
    venue_id: int
    token: str
    public_key: str
    presence_secret: str
    api: Api

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def get(self, path: str, **headers: str) -> TestResponse:
        return self.api.request("GET", path, headers=self.headers(**headers))

    def post(self, path: str, body: Any) -> TestResponse:
        return self.api.request("POST", path, json_body=body, headers=self.headers())

    def send(self, method: str, path: str, *, data: bytes | str | None = None,
             content_type: str | None = None, **headers: str) -> TestResponse:
        """A raw request with this kiosk's token: for bodies ``post`` cannot express."""
        return self.api.request(method, path, data=data, content_type=content_type,
                                headers=self.headers(**headers))
