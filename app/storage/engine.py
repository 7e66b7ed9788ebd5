"""Engine creation: SQLite tuned for several gunicorn workers, PostgreSQL through psycopg 3, any other URL as is."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from app.storage.tables import metadata, settings_version

# Any constant will do: it only has to be the same in every process creating the tables.
SCHEMA_LOCK = 0x6D6C6161


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def normalise_url(url: str) -> str:
    """``postgresql://`` (and Heroku's ``postgres://``) mean psycopg 3, the driver we pin.

    SQLAlchemy reads a bare ``postgresql://`` as psycopg2, which is not installed, so the
    URL users most often copy from elsewhere would fail with an import error.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine whose tables exist; SQLite gets WAL so workers read while one writes."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _tune_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Workers or services starting together on an empty database would race on CREATE TABLE.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        metadata.create_all(conn)
        if conn.execute(settings_version.select()).first() is None:
            conn.execute(settings_version.insert().values(id=1, version=0))
    return engine
