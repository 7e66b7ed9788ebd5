"""Users and API keys. Keys are stored as SHA-256 hashes and shown once."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from app.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from app.storage.tables import users

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
AUTH_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Principal:
    """Who is asking: resolved once per request from the API key."""

    user_id: int
    username: str
    is_admin: bool
    row_budget: int | None
    rate_limit: int | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A random key with a letter first: a key starting with "-" reads as an option to CLIs (argparse)."""
    return f"mk_{secrets.token_urlsafe(32)}"


class Accounts:
    """Creates users and resolves keys, with a short per-worker cache of lookups."""

    def __init__(self, engine: Engine, default_budget: int | None, default_rate: int | None) -> None:
        self.engine = engine
        self.default_budget = default_budget
        self.default_rate = default_rate
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def ensure_admin(self, key: str | None) -> str | None:
        """Create the ``admin`` user on first start; return its key if generated here.

        A concurrent start that wins the insert is caught outside the transaction, so it is
        rolled back: PostgreSQL refuses anything else in a transaction after an error.
        """
        generated = key is None
        key = key or new_key()
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(users.c.id).where(users.c.username == "admin")).first():
                    return None
                conn.execute(
                    users.insert().values(
                        username="admin", key_hash=hash_key(key), is_admin=True, rows_used=0,
                        rate_window_start=0, rate_count=0, created_at=time.time(),
                    )
                )
        except IntegrityError:
            return None
        return key if generated else None

    def create_user(self, username: object, *, row_budget: int | None = None, rate_limit: int | None = None) -> str:
        """Create a user and return the API key, which is never shown again."""
        if not isinstance(username, str) or not USERNAME.match(username):
            raise BadRequest("username must be 1-64 characters of letters, digits, '_', '.' or '-'")
        key = new_key()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    users.insert().values(
                        username=username, key_hash=hash_key(key), is_admin=False,
                        row_budget=row_budget if row_budget is not None else self.default_budget,
                        rate_limit=rate_limit if rate_limit is not None else self.default_rate,
                        rows_used=0, rate_window_start=0, rate_count=0, created_at=time.time(),
                    )
                )
        except IntegrityError as exc:
            raise BadRequest(f"user {username!r} already exists") from exc
        return key

    def user_id(self, username: str) -> int:
        with self.engine.connect() as conn:
            row = conn.execute(select(users.c.id).where(users.c.username == username)).first()
        if row is None:
            raise NotFound(f"no user {username!r}")
        return row.id

    def describe(self, username: str) -> dict[str, object]:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        if row is None:
            raise NotFound(f"no user {username!r}")
        return {
            "username": row.username, "is_admin": row.is_admin, "row_budget": row.row_budget,
            "rows_used": row.rows_used, "rate_limit": row.rate_limit,
        }

    def set_limits(self, username: str, changes: dict[str, int | None]) -> None:
        self.user_id(username)
        if not changes:
            return
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.username == username).values(**changes))
        with self._lock:
            self._cache.clear()

    def authenticate(self, key: str | None) -> Principal:
        """The principal for ``key``: 401 when missing or unknown."""
        if not key:
            raise Unauthorized("an API key is required: 'Authorization: Bearer <key>'")
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None or now - cached[0] > AUTH_CACHE_SECONDS:
            with self.engine.connect() as conn:
                row = conn.execute(select(users).where(users.c.key_hash == hash_key(key))).first()
            principal = (
                Principal(row.id, row.username, row.is_admin, row.row_budget, row.rate_limit) if row else None
            )
            with self._lock:
                self._cache[key] = (now, principal)
        else:
            principal = cached[1]
        if principal is None:
            raise Unauthorized("invalid API key")
        return principal

    @staticmethod
    def require_admin(principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden("this endpoint needs the admin key")
