"""Schema migrations with Alembic, on whichever database the app is configured for."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

from .extensions import db

SCRIPTS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Create or upgrade the schema. Safe to run on every start and from several
    processes: Alembic records the version inside the same transaction."""
    with app.app_context(), db.engine.begin() as connection:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def revision(app: Flask, message: str) -> None:
    """Autogenerate a migration from the models (developers only)."""
    with app.app_context(), db.engine.begin() as connection:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
