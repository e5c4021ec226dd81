"""report indexes: time ranges for the whole country, covering indexes for areas and venues

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:52:13.206091

The weekly report and the dashboard read one or two weeks of check-ins, plays, scans and kiosk
hours. For the whole country they scan a time range (``*_occurred_at``, ``*_started_at``,
``*_at``, ``*_hour``); for an area or a venue they read each venue's range from an index that
also holds the grouped columns (PostgreSQL ``INCLUDE``), so no table page is visited. The
extended statistics tell PostgreSQL how few (venue, item) groups the plays make, so it picks
a (parallel) hash aggregate. docs/reports.md shows the plans and the timings.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Indexes of 0001 that now also hold the grouped columns (PostgreSQL only).
COVERING = (
    ("checkin", "ix_checkin_venue_occurred", ["venue_id", "occurred_at"],
     ["direction", "has_app", "method"]),
    ("play_event", "ix_play_event_venue_started", ["venue_id", "started_at"],
     ["item_id", "kind", "duration_ms"]),
)
#: Extended statistics: how many groups the report's GROUP BY really makes.
STATISTICS = (
    ("st_play_event_venue_item", "venue_id, item_id, kind", "play_event"),
    ("st_kiosk_hour_venue_kiosk", "venue_id, kiosk_id", "kiosk_hour"),
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index("ix_checkin_occurred_at", ["occurred_at"], unique=False,
                              postgresql_include=["venue_id", "direction", "has_app", "method"])

    with op.batch_alter_table("kiosk_hour", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kiosk_hour_venue_id"))
        batch_op.create_index("ix_kiosk_hour_hour", ["hour"], unique=False)
        batch_op.create_index("ix_kiosk_hour_venue_hour", ["venue_id", "hour"], unique=False,
                              postgresql_include=["kiosk_id", "beats", "footfall"])

    with op.batch_alter_table("play_event", schema=None) as batch_op:
        batch_op.create_index("ix_play_event_started_at", ["started_at"], unique=False,
                              postgresql_include=["venue_id", "item_id", "kind", "duration_ms"])

    with op.batch_alter_table("qr_scan", schema=None) as batch_op:
        batch_op.create_index("ix_qr_scan_at", ["at"], unique=False)

    if _postgresql():
        for table, name, columns, include in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns, unique=False, postgresql_include=include)
        for name, columns, table in STATISTICS:
            op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (ndistinct) ON {columns} "
                       f"FROM {table}")


def downgrade() -> None:
    if _postgresql():
        for name, _columns, _table in STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
        for table, name, columns, _include in COVERING:
            op.drop_index(name, table_name=table)
            op.create_index(name, table, columns, unique=False)

    with op.batch_alter_table("qr_scan", schema=None) as batch_op:
        batch_op.drop_index("ix_qr_scan_at")

    with op.batch_alter_table("play_event", schema=None) as batch_op:
        batch_op.drop_index("ix_play_event_started_at")

    with op.batch_alter_table("kiosk_hour", schema=None) as batch_op:
        batch_op.drop_index("ix_kiosk_hour_venue_hour")
        batch_op.drop_index("ix_kiosk_hour_hour")
        batch_op.create_index(batch_op.f("ix_kiosk_hour_venue_id"), ["venue_id"], unique=False)

    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_occurred_at")
