"""play claimed time: a play stamped in the future or before 2020 keeps the time it claimed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:40:00

A check-in whose time is not trusted is stored at its receive time with the claimed time in
``claimed_at``; a play was stored the same way but lost the claimed time. Plays now keep it
too, so both kinds of record can be examined (and corrected) alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("play_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("play_event", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
