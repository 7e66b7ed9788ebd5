"""Writes whose safety under concurrency depends on the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, and_
from sqlalchemy.dialects.postgresql import insert as pg_insert


def replace(conn: Connection, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Make the row identified by ``key`` (its unique columns) hold ``values``, created if missing.

    SQLite lets one writer in at a time, so deleting then inserting is safe there. On
    PostgreSQL two concurrent replacements would both delete nothing and the second
    insert would break the unique constraint, so it gets an atomic upsert instead.
    """
    row = {**key, **values}
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(table).values(row).on_conflict_do_update(index_elements=list(key), set_=dict(values)))
        return
    conn.execute(table.delete().where(and_(*(table.c[name] == value for name, value in key.items()))))
    conn.execute(table.insert().values(row))
