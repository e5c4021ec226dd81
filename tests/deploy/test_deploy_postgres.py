"""deploy/server/postgres-setup.sh and pg-backup.sh against the test PostgreSQL server.

Skipped unless SIGNAGE_TEST_DATABASE_URL points at one (CI does) and the PostgreSQL client
programs are installed (Debian package postgresql-client).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

PG_URL = os.environ.get("SIGNAGE_TEST_DATABASE_URL", "")


@pytest.fixture(scope="module")
def admin_url() -> str:
    """A libpq URL of the test server, as its superuser."""
    if not PG_URL:
        pytest.skip("SIGNAGE_TEST_DATABASE_URL is not set")
    for tool in ("psql", "pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian package: postgresql-client)")
    url = make_url(PG_URL).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def names(admin_url: str) -> Iterator[tuple[str, str]]:
    """A role and database name of this test's own; both are dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    role, database = f"signage_r_{suffix}", f"signage_d_{suffix}"
    yield role, database
    psql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql(admin_url, f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def setup_script(deploy_dir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(deploy_dir / "server" / "postgres-setup.sh"), *args],
                              input=stdin, capture_output=True, text=True, timeout=60)

    return run


def psql(url: str, sql: str) -> str:
    result = subprocess.run(["psql", "--no-psqlrc", "-tAq", "-v", "ON_ERROR_STOP=1", url,
                             "-c", sql], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_setup_creates_the_role_and_its_database_once(
        admin_url: str, names: tuple[str, str],
        setup_script: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    role, database = names
    args = ["--admin-url", admin_url, "--role", role, "--database", database]

    first = setup_script(*args)
    second = setup_script(*args, "--password-stdin", stdin="s3cret pass\n")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert f"SIGNAGE_DATABASE_URL=postgresql+psycopg://{role}@/{database}" in first.stdout
    owner = psql(admin_url, "SELECT pg_get_userbyid(datdba) FROM pg_database "
                            f"WHERE datname = '{database}'")
    assert owner == role
    assert psql(admin_url, f"SELECT rolpassword IS NOT NULL FROM pg_authid "
                           f"WHERE rolname = '{role}'") == "t"


def test_setup_refuses_names_that_need_quoting(
        admin_url: str, setup_script: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    result = setup_script("--admin-url", admin_url, "--role", 'x"; DROP TABLE y; --')

    assert result.returncode == 2
    assert "not a plain lower-case PostgreSQL name" in result.stderr


def test_backup_writes_a_restorable_dump_and_drops_old_ones(
        admin_url: str, names: tuple[str, str], deploy_dir: Path, tmp_path: Path,
        setup_script: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    role, database = names
    setup_script("--admin-url", admin_url, "--role", role, "--database", database)
    backups = tmp_path / "backups"
    backups.mkdir()
    old, recent = backups / f"{database}-old.dump", backups / f"{database}-recent.dump"
    for path, days in ((old, 10), (recent, 1)):
        path.write_bytes(b"an earlier dump")
        stamp = time.time() - days * 86400
        os.utime(path, (stamp, stamp))
    url = make_url(admin_url)
    env = {**os.environ, "PGHOST": url.host or "", "PGPORT": str(url.port or 5432),
           "PGUSER": url.username or "", "PGPASSWORD": url.password or "",
           "PGDATABASE": database, "BACKUP_DIR": str(backups), "KEEP_DAYS": "3"}

    result = subprocess.run(["bash", str(deploy_dir / "server" / "pg-backup.sh")], env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    dumps = sorted(p.name for p in backups.iterdir())
    assert len(dumps) == 2 and recent.name in dumps and old.name not in dumps
    new = next(backups / name for name in dumps if name != recent.name)
    listing = subprocess.run(["pg_restore", "--list", str(new)], capture_output=True,
                             text=True, timeout=30)
    assert listing.returncode == 0 and database in listing.stdout
    assert new.stat().st_mode & 0o777 == 0o600


def test_backup_refuses_a_nonsense_retention(deploy_dir: Path, tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(deploy_dir / "server" / "pg-backup.sh")],
                            env={**os.environ, "BACKUP_DIR": str(tmp_path), "KEEP_DAYS": "0"},
                            capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    assert "KEEP_DAYS" in result.stderr
