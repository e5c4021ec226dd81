"""The management server: a Flask application built by ``create_app``.

Nothing happens at import. ``create_app`` reads the configuration once (see ``config``), binds
the database and registers the blueprints by audience: ``api`` (kiosks; served by a small app
of its own, mounted in front for ``/api/``, see ``api``), ``media`` (files by hash), and the
pages for staff and visitors.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config as config_module
from . import errors, keys
from .extensions import db


def default_instance_path() -> Path:
    return Path(os.environ.get("SIGNAGE_INSTANCE_PATH", "instance")).resolve()


def create_app(test_config: dict[str, Any] | None = None,
               instance_path: str | Path | None = None) -> Flask:
    instance = Path(instance_path).resolve() if instance_path else default_instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True)
    settings = config_module.load(instance, overrides=test_config)
    app.config.update(settings)
    _derive(app, instance)
    logging.getLogger("signage_server").setLevel(app.config["LOG_LEVEL"])

    db.init_app(app)
    with app.app_context():
        _tune(db.engine)
    app.extensions["signage_keys"] = keys.sealing_key(instance)

    errors.register(app)
    from . import api, media_files, public

    kiosk_api = api.register(app)  # its own lean app, in front of this one for /api/
    app.register_blueprint(media_files.bp)
    public.register(app)
    __import__(f"{__name__}.admin", fromlist=["register"]).register(app)  # staff console
    __import__(f"{__name__}.reports.views", fromlist=["register"]).register(app)  # reports
    from .cli import register as register_cli

    register_cli(app)
    from .retention import install as install_daily_purge

    purge_trigger = install_daily_purge(app)
    if purge_trigger is not None:  # a fleet with no staff signed in still purges daily
        kiosk_api.before_request(purge_trigger)
    return app


def _derive(app: Flask, instance: Path) -> None:
    """Settings whose default depends on the instance folder."""
    cfg = app.config
    if not cfg["SECRET_KEY"]:
        cfg["SECRET_KEY"] = keys.secret_key(instance)
    url = cfg["DATABASE_URL"] or f"sqlite:///{instance / 'signage.sqlite'}"
    cfg["DATABASE_URL"] = url
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    engine_options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        engine_options = {"connect_args": {"timeout": 30}}
    cfg.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options)
    cfg["MEDIA_DIR"] = str(Path(cfg["MEDIA_DIR"] or instance / "media"))
    Path(cfg["MEDIA_DIR"]).mkdir(parents=True, exist_ok=True)


def _tune(engine: Engine) -> None:
    """SQLite: WAL so readers never wait for the writer, foreign keys on, and a busy
    timeout so several server processes share one file."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged record survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
