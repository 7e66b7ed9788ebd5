"""Every table the service keeps. One metadata object, created at start."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
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

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("row_budget", Integer, nullable=True),
    Column("rows_used", Integer, nullable=False, default=0),
    Column("rate_limit", Integer, nullable=True),
    Column("rate_window_start", Integer, nullable=False, default=0),
    Column("rate_count", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
)

query_log = Table(
    "query_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, nullable=True),
    Column("model", String(128), nullable=True),
    Column("endpoint", String(32), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("status", Integer, nullable=False),
    Column("seconds", Float, nullable=False),
    Column("at", Float, nullable=False),
    Column("worker", Integer, nullable=False),
)
Index("ix_query_log_user", query_log.c.user_id)

defense_settings = Table(
    "defense_settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(8), nullable=False),
    Column("name", String(128), nullable=False),
    Column("spec", Text, nullable=False),
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
    Column("id", String(24), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("content", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("source_id", String(24), ForeignKey("sources.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("info", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

uploaded_models = Table(
    "uploaded_models",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("owner_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("dataset_id", String(24), ForeignKey("datasets.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("blob", LargeBinary, nullable=False),
    Column("downloadable", Boolean, nullable=False, default=True),
    Column("created_at", Float, nullable=False),
)
Index("ix_uploaded_models_owner_name", uploaded_models.c.owner_id, uploaded_models.c.name)

model_settings = Table(
    "model_settings",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("downloadable", Boolean, nullable=False, default=True),
)
