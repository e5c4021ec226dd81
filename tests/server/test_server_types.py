"""UTCDateTime: the SQLite shortcut stores exactly the text SQLAlchemy's own path stores."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator

from signage_server.models.types import UTCDateTime

SQLITE = sqlite.dialect()


def general_path(value: datetime | None) -> str | None:
    """What SQLAlchemy would bind without the shortcut: our conversion, then DATETIME's."""
    column = UTCDateTime().dialect_impl(SQLITE)  # as SQLAlchemy asks a column for it
    process = TypeDecorator.bind_processor(column, SQLITE)
    assert process is not None
    return process(value)  # type: ignore[no-any-return]


def moments() -> list[datetime]:
    rng = random.Random(20261123)
    zones = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-12)),
             timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=14))]
    fixed = [datetime(2026, 11, 23, 8, 5, 9, tzinfo=UTC),  # no microseconds
             datetime(2026, 11, 23, 8, 5, 9, 1, tzinfo=UTC),
             datetime(1, 1, 1, 12, tzinfo=timezone(timedelta(hours=1))),  # year 1 in UTC
             datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # three-digit year
             datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2020, 1, 1, 6, 59, 59, 999999, tzinfo=timezone(timedelta(hours=7)))]
    drawn = [datetime.fromtimestamp(rng.uniform(-2e9, 4e9), rng.choice(zones))
             for _ in range(2000)]
    return fixed + drawn


def test_sqlite_shortcut_binds_the_same_text_as_sqlalchemy() -> None:
    fast = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    for moment in moments():
        assert fast(moment) == general_path(moment), moment
    assert fast(None) is None and general_path(None) is None


def test_sqlite_shortcut_refuses_naive_times_like_the_general_path() -> None:
    fast = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    naive = datetime(2026, 11, 23, 8, 5, 9)
    for process in (fast, general_path):
        with pytest.raises(ValueError, match="naive"):
            process(naive)


def test_postgresql_keeps_sqlalchemy_path() -> None:
    moment = datetime(2026, 11, 23, 15, 5, 9, tzinfo=timezone(timedelta(hours=7)))
    dialect = postgresql.psycopg.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    bound = process(moment) if process else moment
    assert bound == moment and bound.utcoffset() == timedelta(0)
