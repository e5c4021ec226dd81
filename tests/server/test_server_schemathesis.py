"""Schemathesis against the OpenAPI document and the real app, with a real kiosk token.

Every operation gets generated requests, valid and invalid, bounded and deterministic, with
no example database written into the repository. Every answer must be no server error, have
a declared status code, content type and headers, and conform to its schema; invalid
requests must be refused, and a request without the token must not be served.

(Schemathesis' own pytest plugin, ``from_fixture(...).parametrize()``, needs pytest's removed
``Function._nodeid`` under pytest 9, so the operations are parametrized here and each one is
driven with Hypothesis directly.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from signage_server.api.openapi import document

if TYPE_CHECKING:
    from flask import Flask
    from schemathesis.generation.case import Case
    from schemathesis.schemas import BaseSchema
    from server_api import KioskApi

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance,
          negative_data_rejection, ignored_auth]
OPERATIONS = [(path, method.upper()) for path, item in document()["paths"].items()
              for method in item]
#: An invalid request is refused if it gets any 4xx: 413 (batch over 1,000 records) too.
CONFIG = {"checks": {"negative_data_rejection": {"expected-statuses": ["4XX"]}}}
BOUNDED = settings(max_examples=25, derandomize=True, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home() -> None:
    """Hypothesis keeps caches (not examples: database=None) under ./.hypothesis unless told
    otherwise: keep them out of the checkout, in a folder that outlives the run (its Unicode
    tables take seconds to build)."""
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"signage-hypothesis-{os.getuid()}")


@pytest.fixture
def api_schema(app: Flask) -> BaseSchema:
    """The document as the app serves it, bound to the app (WSGI, no network)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                          config=SchemathesisConfig.from_dict(CONFIG))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=lambda m: m.value)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_api_keeps_its_contract(api_schema: BaseSchema, kiosk: KioskApi, path: str,
                                method: str, mode: GenerationMode) -> None:
    operation = api_schema[path][method]
    token = {"Authorization": f"Bearer {kiosk.token}"}

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode))
    def exchange(case: Case) -> None:
        case.call_and_validate(headers=token, checks=CHECKS)

    exchange()
