"""self check-in and reception: per-client rate limits, job leases, departures linked to arrivals

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:12:02.506669

- ``rate_hit``: requests counted per client (an HMAC key) for the self check-in pages, in the
  database so every server process sees the same count.
- ``job_lease``: which process runs the daily purge, so several processes do not all run it.
- ``checkin.arrival_id``: a departure logged by signing a visitor out at reception names the
  arrival it closes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_lease")),
    )
    op.create_table(
        "rate_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hit")),
    )
    with op.batch_alter_table("rate_hit", schema=None) as batch_op:
        batch_op.create_index("ix_rate_hit_key_at", ["key", "at"], unique=False)

    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(sa.Column("arrival_id", sa.Integer(), nullable=True))
        # unique: one departure per arrival, even when two staff press "sign out" at once
        batch_op.create_index(batch_op.f("ix_checkin_arrival_id"), ["arrival_id"], unique=True)
        batch_op.create_foreign_key(batch_op.f("fk_checkin_arrival_id_checkin"), "checkin",
                                    ["arrival_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_checkin_arrival_id_checkin"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_checkin_arrival_id"))
        batch_op.drop_column("arrival_id")

    with op.batch_alter_table("rate_hit", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_hit_key_at")

    op.drop_table("rate_hit")
    op.drop_table("job_lease")
