"""The OpenAPI document itself, and the contract check every other test relies on."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from jsonschema import Draft202012Validator

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from server_api import Api, Contract, KioskApi


@pytest.fixture
def document(contract: Contract) -> dict[str, Any]:
    return contract.document


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(copy.deepcopy(document)).validate()


def test_every_component_is_a_valid_json_schema(document: dict[str, Any]) -> None:
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_document_is_served_as_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("path", ["/api/v1/enroll", "/api/v1/kiosk/manifest",
                                  "/api/v1/checkins", "/api/v1/plays", "/api/v1/heartbeat",
                                  "/media/{sha256}"])
def test_document_describes_every_endpoint(document: dict[str, Any], path: str) -> None:
    assert path in document["paths"]


def test_contract_refuses_an_undeclared_status(api: Api, contract: Contract) -> None:
    del contract.document["paths"]["/api/v1/kiosk/manifest"]["get"]["responses"]["401"]
    with pytest.raises(AssertionError, match="401, not declared"):
        api.get("/api/v1/kiosk/manifest")


def test_contract_refuses_a_body_that_breaks_the_schema(kiosk: KioskApi,
                                                        contract: Contract) -> None:
    manifest = contract.document["components"]["schemas"]["Manifest"]
    manifest["required"] = [*manifest["required"], "weather"]
    with pytest.raises(AssertionError, match="'weather' is a required property"):
        kiosk.get("/api/v1/kiosk/manifest")


def test_contract_refuses_an_undeclared_content_type(kiosk: KioskApi,
                                                     contract: Contract) -> None:
    responses = contract.document["paths"]["/api/v1/kiosk/manifest"]["get"]["responses"]
    responses["200"]["content"] = {"text/html": {}}
    with pytest.raises(AssertionError, match="content type 'application/json'"):
        kiosk.get("/api/v1/kiosk/manifest")
