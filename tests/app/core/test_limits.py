"""Budgets and rate limits are counted in the database, so two processes share them."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from app.core.accounts import Accounts
from app.core.errors import TooManyRequests, Unauthorized
from app.core.limits import Limits
from app.storage.engine import make_engine


@pytest.fixture()
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'limits.sqlite3'}"


def _spend(db_url: str, key: str, attempts: int, results: multiprocessing.Queue) -> None:
    engine = make_engine(db_url)
    accounts, limits = Accounts(engine, None, None), Limits(engine, window_seconds=3600)
    admitted = 0
    for _ in range(attempts):
        try:
            limits.admit(accounts.authenticate(key), rows=3)
            admitted += 1
        except TooManyRequests:
            pass
    results.put(admitted)


def test_row_budget_is_shared_by_processes(db_url: str) -> None:
    engine = make_engine(db_url)
    key = Accounts(engine, None, None).create_user("alice", row_budget=30)
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_spend, args=(db_url, key, 10, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(results.get(timeout=10) for _ in workers) == 10
    assert Accounts(engine, None, None).describe("alice")["rows_used"] == 30


def test_rate_limit_blocks_within_window_and_says_when_to_retry(db_url: str) -> None:
    engine = make_engine(db_url)
    accounts = Accounts(engine, None, None)
    principal = accounts.authenticate(accounts.create_user("bob", rate_limit=2))
    limits = Limits(engine, window_seconds=3600)
    limits.admit(principal, 1)
    limits.admit(principal, 1)
    with pytest.raises(TooManyRequests) as caught:
        limits.admit(principal, 1)
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1


def test_budget_failure_does_not_charge_the_rate_window(db_url: str) -> None:
    engine = make_engine(db_url)
    accounts = Accounts(engine, None, None)
    principal = accounts.authenticate(accounts.create_user("carol", row_budget=5, rate_limit=2))
    limits = Limits(engine, window_seconds=3600)
    with pytest.raises(TooManyRequests):
        limits.admit(principal, 6)
    limits.admit(principal, 5)
    limits.admit(principal, 0)


def test_unknown_and_missing_keys_are_401(db_url: str) -> None:
    accounts = Accounts(make_engine(db_url), None, None)
    for key in (None, "", "not-a-key"):
        with pytest.raises(Unauthorized):
            accounts.authenticate(key)


def test_admin_key_is_generated_once(db_url: str) -> None:
    engine = make_engine(db_url)
    first = Accounts(engine, None, None).ensure_admin(None)
    assert first and Accounts(engine, None, None).ensure_admin(None) is None
    assert Accounts(engine, None, None).authenticate(first).is_admin
