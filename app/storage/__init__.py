"""The service's database: SQLAlchemy Core tables on SQLite by default."""
