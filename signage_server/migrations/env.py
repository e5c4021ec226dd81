"""Alembic environment: runs on the connection ``signage_server.migrate`` hands over, so
migrations use exactly the engine the app is configured with (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context

from signage_server.extensions import db

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=db.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
