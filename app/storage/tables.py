"""Every table the service keeps. One metadata object, created at start.

The same tables serve SQLite and PostgreSQL. PostgreSQL is stricter in three ways the
column types absorb: it enforces ``VARCHAR(n)`` (so names that users choose, or that are
derived from theirs, are unbounded), its ``INTEGER`` is 32-bit (so counters that SQLite
keeps in 64 bits are ``BIGINT``; SQLite keeps its ``INTEGER`` key, the one that autoincrements),
and its text cannot hold NUL (see ``SafeString``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class SafeString(TypeDecorator):
    """A string whose NUL characters become U+FFFD on PostgreSQL (SQLite keeps them).

    PostgreSQL text cannot hold NUL and psycopg refuses such a parameter outright, so
    without this a client could turn a lookup by name or id (``/v2/models/a%00b``) into
    a 500, or make a whole query-log batch fail. Such a lookup now matches nothing, as
    on SQLite, and a value stored this way reads back with U+FFFD where the NUL was.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if dialect.name == "postgresql" and isinstance(value, str) and "\x00" in value:
            return value.replace("\x00", "\ufffd")
        return value


class SafeText(SafeString):
    """``SafeString`` of unbounded length, as ``TEXT``."""

    impl = Text
    cache_ok = True


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", SafeString(64), nullable=False, unique=True),
    Column("key_hash", SafeString(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("row_budget", BigInteger, nullable=True),
    Column("rows_used", BigInteger, nullable=False, default=0),
    Column("rate_limit", BigInteger, nullable=True),
    Column("rate_window_start", BigInteger, nullable=False, default=0),
    Column("rate_count", BigInteger, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
)

query_log = Table(
    "query_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("user_id", Integer, nullable=True),
    Column("model", SafeText(), nullable=True),
    Column("endpoint", SafeString(32), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("at", Float, nullable=False),
    Column("worker", Integer, nullable=False),
)
Index("ix_query_log_user", query_log.c.user_id)

query_log_segments = Table(
    "query_log_segments",
    metadata,
    # The write-ahead files whose rows are in query_log: written in the same transaction as
    # those rows, so a file found again after a crash is deleted, not inserted twice.
    Column("name", SafeString(64), primary_key=True),
)

defense_settings = Table(
    "defense_settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", SafeString(8), nullable=False),
    Column("name", SafeText(), nullable=False),
    Column("spec", SafeText(), nullable=False),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("scope", "name"),
)

settings_version = Table(
    "settings_version",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", SafeString(24), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", SafeText(), nullable=False),
    Column("content", SafeText(), nullable=False),
    Column("created_at", Float, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", SafeString(24), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("source_id", SafeString(24), ForeignKey("sources.id"), nullable=False),
    Column("name", SafeText(), nullable=False),
    Column("info", SafeText(), nullable=False),
    Column("created_at", Float, nullable=False),
)

uploaded_models = Table(
    "uploaded_models",
    metadata,
    Column("id", SafeString(24), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("dataset_id", SafeString(24), ForeignKey("datasets.id"), nullable=False),
    Column("name", SafeText(), nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Column("downloadable", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)
Index("ix_uploaded_models_owner_name", uploaded_models.c.owner_id, uploaded_models.c.name)

model_settings = Table(
    "model_settings",
    metadata,
    Column("name", SafeString(128), primary_key=True),
    Column("downloadable", Boolean, nullable=False, default=True),
)

jobs = Table(
    "jobs",
    metadata,
    # Attack runs launched from the tuning page: the queue the job runner claims from, and their outcome.
    Column("id", SafeString(24), primary_key=True),
    Column("owner", SafeString(64), nullable=False),
    Column("model", SafeText(), nullable=False),
    Column("spec", SafeText(), nullable=False),
    Column("attack", SafeString(64), nullable=False),
    Column("params", SafeText(), nullable=False),
    Column("utility", SafeText(), nullable=True),
    Column("status", SafeString(16), nullable=False),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("progress", SafeText(), nullable=False),
    Column("outputs", SafeText(), nullable=True),
    Column("error", SafeText(), nullable=True),
    Column("username", SafeString(64), nullable=True),
    Column("runner", SafeString(128), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
)
Index("ix_jobs_status_created", jobs.c.status, jobs.c.created_at)
