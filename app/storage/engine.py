"""Engine creation: SQLite tuned for several gunicorn workers, any other URL as is."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event

from app.storage.tables import metadata, settings_version


def _tune_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine whose tables exist; SQLite gets WAL so workers read while one writes."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _tune_sqlite)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(settings_version.select()).first() is None:
            conn.execute(settings_version.insert().values(id=1, version=0))
    return engine
