"""A throwaway PostgreSQL server for the tests (marker ``postgres``), started by pytest-postgresql
from the machine's PostgreSQL binaries (Debian's ``postgresql`` package) through
``tests/helpers/pg_ctl.sh``, which runs it as the ``postgres`` user when the tests run as root
(as CI does). One server per test session and worker; each test gets databases of its own.
The scale test (tests/scale, twenty bots) has a server of its own that accepts more connections
(each bot keeps a small SQLAlchemy pool open).

Without PostgreSQL's binaries the tests that need the server skip, saying so (under ``CI=true``
a skip fails the run: tests/conftest.py)."""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories

from tests.helpers.paths import ROOT

PG_CTL = str(ROOT / "tests" / "helpers" / "pg_ctl.sh")

postgresql_server = factories.postgresql_proc(
    executable=PG_CTL, host="127.0.0.1", port=None, user="postgres"
)
postgresql_scale_server = factories.postgresql_proc(
    executable=PG_CTL,
    host="127.0.0.1",
    port=None,
    user="postgres",
    postgres_options="-c max_connections=400",
)


NO_POSTGRES = (
    "no PostgreSQL server binaries (pg_ctl) under /usr/lib/postgresql/*/bin or $PG_BIN "
    "(Debian: apt-get install postgresql)"
)


def postgres_missing() -> str | None:
    """Why the throwaway server cannot start here (None when it can): pg_ctl.sh's search for
    PostgreSQL's binaries, done before pytest-postgresql would fail on it with an error."""
    if os.environ.get("PG_BIN"):
        folder: Path | None = Path(os.environ["PG_BIN"])
    else:  # the newest version, as pg_ctl.sh takes it
        folders = Path("/usr/lib/postgresql").glob("*/bin")
        folder = max(
            folders, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)], default=None
        )
    if folder is not None and os.access(folder / "pg_ctl", os.X_OK):
        return None
    return NO_POSTGRES


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Factory: a new, empty database on the server; returns Freqtrade's ``db_url`` for it.
    Skips the test without PostgreSQL's binaries."""
    if why := postgres_missing():
        pytest.skip(why)
    yield from _databases(request.getfixturevalue("postgresql_server"))


@pytest.fixture
def pg_scale_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Factory: a new, empty database on the scale test's server (its ``db_url``). Skips the
    test without PostgreSQL's binaries."""
    if why := postgres_missing():
        pytest.skip(why)
    yield from _databases(request.getfixturevalue("postgresql_scale_server"))


def _databases(server: Any) -> Iterator[Callable[[], str]]:
    made: list[str] = []
    admin = f"host={server.host} port={server.port} user={server.user} dbname=postgres"

    def create() -> str:
        name = f"bot_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"postgresql+psycopg://{server.user}@{server.host}:{server.port}/{name}"

    yield create
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError as err:  # the server is throwaway: nothing to keep clean
        warnings.warn(f"could not drop the test databases {made}: {err}", stacklevel=1)
