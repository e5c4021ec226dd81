"""New, empty databases on the test PostgreSQL server, for fixtures and test helpers alike
(``tests/conftest.py`` and modules such as ``tests/server/report_week.py`` import it)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, make_url, text


@contextlib.contextmanager
def new_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database named ``<prefix>_<8 hex>`` on the PostgreSQL server of
    ``server_url``; its URL, and it is dropped (connections and all) afterwards."""
    server = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
