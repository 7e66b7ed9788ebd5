"""What the PostgreSQL fixes must not change on SQLite, the default engine."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select, text

from app.core.accounts import Accounts
from app.core.defense_config import DefenseConfig
from app.storage.engine import make_engine
from app.storage.rows import replace
from app.storage.tables import defense_settings, query_log


def sqlite(tmp_path: Path) -> Engine:
    return make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")


def test_query_log_key_still_autoincrements_and_nul_is_kept(tmp_path: Path) -> None:
    engine = sqlite(tmp_path)
    row = {"user_id": None, "model": "a\x00b", "endpoint": "v1", "rows": 1, "status": 200, "seconds": 0.1,
           "at": 0.0, "worker": 1}
    with engine.begin() as conn:
        conn.execute(query_log.insert(), [row, row])
        assert conn.execute(select(query_log.c.id, query_log.c.model)).all() == [(1, "a\x00b"), (2, "a\x00b")]
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'query_log'")).scalar_one()
    assert "id INTEGER NOT NULL" in ddl


def test_replace_and_settings_keep_one_row_per_key(tmp_path: Path) -> None:
    engine = sqlite(tmp_path)
    with engine.begin() as conn:
        for spec in ("[1]", "[2]"):
            replace(conn, defense_settings, {"scope": "user", "name": "u"}, {"spec": spec, "updated_at": 0.0})
        assert conn.execute(select(defense_settings.c.spec)).scalars().all() == ["[2]"]
    config = DefenseConfig(engine, 0)
    config.put("model", "m", [{"round": 0.1}])
    config.put("model", "m", [{"top_k": 1}])
    assert config.get("model", "m") == [{"top_k": 1}]


def test_admin_is_created_once(tmp_path: Path) -> None:
    accounts = Accounts(sqlite(tmp_path), None, None)
    key = accounts.ensure_admin(None)
    assert key and accounts.authenticate(key).is_admin
    assert accounts.ensure_admin(None) is None
    assert accounts.ensure_admin("another-key") is None
