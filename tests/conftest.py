"""Fixtures shared by every test: the app on each configured database, and its clients.

``app`` runs once on SQLite and, when ``SIGNAGE_TEST_DATABASE_URL`` points at PostgreSQL,
once more there. Each xdist worker gets its own PostgreSQL database (created from the URL's
server) migrated once; tests truncate it before they start. SQLite tests copy a migrated
template file, which is faster than migrating again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from scratch_databases import new_database
from sqlalchemy import text

from signage_server import create_app
from signage_server.extensions import db
from signage_server.migrate import upgrade

PG_URL = os.environ.get("SIGNAGE_TEST_DATABASE_URL", "")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    app = create_app({"TESTING": True}, instance_path=folder)
    upgrade(app)
    with app.app_context():
        db.engine.dispose()
    return folder / "signage.sqlite"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this worker's own on the test PostgreSQL server, migrated once."""
    if not PG_URL:
        pytest.skip("SIGNAGE_TEST_DATABASE_URL is not set")
    with new_database(PG_URL, f"signage_{_worker()}") as url:
        yield url


@pytest.fixture
def scratch_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database of its own for one test (migrations from nothing)."""
    with new_database(postgres_url, "signage_scratch") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_migrated(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("pg-migrate")
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url}, instance_path=folder)
    upgrade(app)
    with app.app_context():
        db.engine.dispose()
    return postgres_url


def _truncate_postgres(app: Flask) -> None:
    """Empty every table and restart the ids. DELETE, children first, rather than TRUNCATE:
    on tables this small it takes ~0.1 s where TRUNCATE (new files for every table) takes
    ~0.8 s, and it runs before every PostgreSQL test."""
    with app.app_context(), db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name != "manifest_generation":
                conn.execute(table.delete())
        sequences = conn.scalars(text("SELECT sequencename FROM pg_sequences "
                                      "WHERE schemaname = current_schema()")).all()
        for sequence in sequences:
            conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        conn.execute(text("UPDATE manifest_generation SET value = 0"))


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "instance" / "signage.sqlite"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    return str(request.getfixturevalue("postgres_migrated"))


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Per-test overrides; a test module can override this fixture."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    config = {"TESTING": True, "DATABASE_URL": database_url,
              "PUBLIC_URL": "http://127.0.0.1:5000", "MQTT_URL": "", **app_config}
    application = create_app(config, instance_path=tmp_path / "instance")
    if database_url.startswith("postgresql"):
        _truncate_postgres(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()
