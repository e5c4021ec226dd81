"""poll state notifications: PostgreSQL tells every server process when a poll's answer may change

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:50:00

Each server process keeps the state a manifest poll answered 304 needs (token hash -> kiosk,
cached manifest version, generation) in memory (``signage_server.poll_cache``) and listens
on the channel ``signage_poll_state``. These triggers send on it, when the transaction that
made the change commits:

- the kiosk's id when a kiosk row is inserted or deleted, or one of the columns a poll reads
  (token_hash, revoked_at, venue_id, manifest_generation, manifest_version, manifest_etag) is
  updated. Heartbeats update only status and last_heartbeat_at, so they send nothing;
- ``*`` (everything is stale) on any change to ``manifest_generation``.

One statement per ``op.execute``: a driver may send a statement with parameters, and
PostgreSQL takes one command per such statement.

PostgreSQL only; on SQLite, which has no notifications and no cache, this does nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = ("""
CREATE FUNCTION signage_notify_kiosk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('signage_poll_state', OLD.id::text);
    ELSE
        PERFORM pg_notify('signage_poll_state', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$
""", """
CREATE FUNCTION signage_notify_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('signage_poll_state', '*');
    RETURN NULL;
END
$$
""", """
CREATE TRIGGER kiosk_poll_state_insert_delete
    AFTER INSERT OR DELETE ON kiosk
    FOR EACH ROW EXECUTE FUNCTION signage_notify_kiosk()
""", """
CREATE TRIGGER kiosk_poll_state_update
    AFTER UPDATE OF token_hash, revoked_at, venue_id, manifest_generation, manifest_version,
        manifest_etag ON kiosk
    FOR EACH ROW EXECUTE FUNCTION signage_notify_kiosk()
""", """
CREATE TRIGGER manifest_generation_poll_state
    AFTER INSERT OR UPDATE OR DELETE ON manifest_generation
    FOR EACH STATEMENT EXECUTE FUNCTION signage_notify_generation()
""")

DOWNGRADE = (
    "DROP TRIGGER IF EXISTS manifest_generation_poll_state ON manifest_generation",
    "DROP TRIGGER IF EXISTS kiosk_poll_state_update ON kiosk",
    "DROP TRIGGER IF EXISTS kiosk_poll_state_insert_delete ON kiosk",
    "DROP FUNCTION IF EXISTS signage_notify_generation()",
    "DROP FUNCTION IF EXISTS signage_notify_kiosk()",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
