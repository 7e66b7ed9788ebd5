"""The whole service on PostgreSQL: accounts, limits, query log, defences, uploads, restarts.

SQLite is what every other test uses; here the same service runs on a real PostgreSQL
server (``conftest.postgres``), to prove that ``MLAAS_DATABASE_URL`` selects a working
engine and that the counters stay exact when PostgreSQL, not SQLite, arbitrates writers.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select

from app import create_app
from app.storage.engine import make_engine, normalise_url
from app.storage.tables import query_log, users
from tests.app.core.test_querylog import check_killed_writers_rows_are_replayed_once
from tests.app.dialects.bigml_helpers import CSV, BigMLUser
from tests.app.dialects.test_bigml_uploads import created, post, upload
from tests.app.storage.conftest import PostgresCluster
from tests.conftest import ADMIN_KEY, MODEL_CACHE, data_dir, start_server, stop_server

TREES = ("fair-tree", "steak-tree", "gss-tree")
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The app's settings on ``url``: a rate window no test straddles, defence changes seen at once."""
    return {
        "DATABASE_URL": url,
        "ADMIN_KEY": ADMIN_KEY,
        "DATA_DIR": data_dir(),
        "CACHE_DIR": MODEL_CACHE,
        "TESTING": True,
        "RATE_WINDOW_SECONDS": 3600,
        "DEFENSE_REFRESH_SECONDS": 0,
        **overrides,
    }


def shut(app: Flask) -> None:
    """Drain the app's query log and close its connections while the server still runs."""
    services = app.extensions["mlaas"]
    services.query_log.close()
    services.registry.engine.dispose()


@pytest.fixture(scope="module")
def pg_app(postgres_url: str) -> Iterator[Flask]:
    app = create_app(settings(postgres_url))
    yield app
    shut(app)


@pytest.fixture()
def client(pg_app: Flask) -> FlaskClient:
    return pg_app.test_client()


@pytest.fixture(scope="module")
def tree(pg_app: Flask) -> str:
    """A built-in tree this app serves (fair-tree on the fallbacks, steak/gss on the real data)."""
    return next(name for name in TREES if name in pg_app.extensions["mlaas"].registry.builtins)


def new_user(client: FlaskClient, **limits: int) -> BigMLUser:
    name = f"pg-{uuid.uuid4().hex[:12]}"
    response = client.post("/admin/users", json={"username": name, **limits}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    return BigMLUser(name, response.get_json()["api_key"])


def bearer(user: BigMLUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {user.key}"}


def predictor(app: Flask, tree: str, user: BigMLUser, rows: int = 1) -> Callable[[int], int]:
    """A function of a request number that predicts ``rows`` rows with a client of its own."""

    def call(_: int) -> int:
        body = {"instances": [{}] * rows}
        return app.test_client().post(f"/v1/models/{tree}:predict", json=body, headers=bearer(user)).status_code

    return call


def concurrently(call: Callable[[int], int], times: int, threads: int = 8) -> Counter[int]:
    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(call, range(times)))


def test_the_service_really_runs_on_postgresql(pg_app: Flask) -> None:
    engine = pg_app.extensions["mlaas"].registry.engine
    assert (engine.dialect.name, engine.dialect.driver) == ("postgresql", "psycopg")
    assert {"users", "query_log", "defense_settings", "sources", "datasets", "uploaded_models"} <= set(
        inspect(engine).get_table_names()
    )


@pytest.mark.parametrize("over_socket", [False, True])
def test_plain_postgresql_urls_mean_psycopg(postgres: PostgresCluster, postgres_url: str, over_socket: bool) -> None:
    assert normalise_url(postgres_url.replace("postgresql+psycopg://", "postgres://")) == postgres_url
    assert normalise_url("sqlite:////tmp/x.sqlite3") == "sqlite:////tmp/x.sqlite3"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    assert normalise_url(plain) == postgres_url
    if over_socket:
        plain = f"postgresql://mlaas@/mlaas_test?host={postgres.base}&port={postgres.port}"
    engine = make_engine(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(users).where(users.c.is_admin)).scalar_one() == 1
    finally:
        engine.dispose()


def test_admin_is_bootstrapped_and_new_users_keys_work(client: FlaskClient, tree: str) -> None:
    admin = client.get("/admin/users/admin", headers=ADMIN)
    assert admin.status_code == 200 and admin.get_json()["is_admin"] is True
    user = new_user(client)
    assert client.get(f"/v1/models/{tree}", headers=bearer(user)).status_code == 200
    assert client.get(f"/admin/users/{user.name}", headers=bearer(user)).status_code == 403
    assert client.get(f"/v1/models/{tree}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    again = client.post("/admin/users", json={"username": user.name}, headers=ADMIN)
    assert again.status_code == 400 and "already exists" in again.get_json()["error"]["message"]
    assert client.get(f"/admin/users/{user.name}", headers=ADMIN).get_json()["is_admin"] is False


def test_row_budget_is_exact_under_concurrent_requests(pg_app: Flask, client: FlaskClient, tree: str) -> None:
    user = new_user(client, row_budget=25)
    statuses = concurrently(predictor(pg_app, tree, user), times=40)
    assert statuses == Counter({200: 25, 429: 15})
    assert client.get(f"/admin/users/{user.name}", headers=ADMIN).get_json()["rows_used"] == 25


def test_budgets_beyond_32_bits(pg_app: Flask, client: FlaskClient, tree: str) -> None:
    """PostgreSQL's INTEGER would overflow where SQLite's did not: the counters are BIGINT."""
    user = new_user(client, row_budget=5_000_000_000)
    changed = client.put(f"/admin/users/{user.name}/limits", json={"rows_used": 4_999_999_999}, headers=ADMIN)
    assert changed.status_code == 200
    assert predictor(pg_app, tree, user)(0) == 200
    assert predictor(pg_app, tree, user)(0) == 429
    assert client.get(f"/admin/users/{user.name}", headers=ADMIN).get_json()["rows_used"] == 5_000_000_000


def test_rate_limit_is_exact_under_concurrent_requests(pg_app: Flask, client: FlaskClient, tree: str) -> None:
    user = new_user(client, rate_limit=3)
    assert concurrently(predictor(pg_app, tree, user), times=10) == Counter({200: 3, 429: 7})
    refused = client.post(f"/v1/models/{tree}:predict", json={"instances": [{}]}, headers=bearer(user))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_query_log_rows_are_written(pg_app: Flask, client: FlaskClient, tree: str) -> None:
    user = new_user(client, row_budget=4)
    for rows in (1, 3, 1):
        predictor(pg_app, tree, user, rows)(0)
    long_name, nul_name = "x" * 300, "a\x00b"  # longer than the old VARCHAR(128); NUL, which PostgreSQL refuses
    for name in (long_name, "a%00b"):
        missing = client.post(f"/v1/models/{name}:predict", json={"instances": [{}]}, headers=bearer(user))
        assert missing.status_code == 404
    logged = client.get("/admin/query-log?limit=1000", headers=ADMIN).get_json()["queries"]
    mine = [(q["model"], q["endpoint"], q["rows"], q["status"]) for q in reversed(logged) if q["username"] == user.name]
    assert mine == [
        (tree, "v1", 1, 200),
        (tree, "v1", 3, 200),
        (tree, "v1", 1, 429),
        (long_name, "v1", 0, 404),
        (nul_name.replace("\x00", "\ufffd"), "v1", 0, 404),
    ]
    with pg_app.extensions["mlaas"].registry.engine.connect() as conn:
        stored = conn.execute(
            select(query_log.c.rows, query_log.c.status)
            .join(users, users.c.id == query_log.c.user_id)
            .where(users.c.username == user.name)
            .order_by(query_log.c.id)
        ).all()
    assert [tuple(row) for row in stored] == [(1, 200), (3, 200), (1, 429), (0, 404), (0, 404)]


def test_a_killed_writers_query_log_rows_are_replayed_once(postgres: PostgresCluster) -> None:
    check_killed_writers_rows_are_replayed_once(postgres.database("mlaas_replay"))


def test_names_with_nul_are_not_found_rather_than_errors(client: FlaskClient) -> None:
    user = new_user(client)
    assert client.get("/v2/models/a%00b", headers=bearer(user)).status_code == 404
    assert client.get(f"/andromeda/model/{'0' * 23}%00?{user.query}").status_code == 404


def test_defense_settings_are_stored_and_read_back(pg_app: Flask, client: FlaskClient, tree: str) -> None:
    user = new_user(client)
    url = f"/admin/users/{user.name}/defense"
    assert client.put(url, json=[{"round": 0.1}], headers=ADMIN).status_code == 200
    assert client.get(url, headers=ADMIN).get_json()["spec"] == [{"round": 0.1}]
    answer = client.post(f"/v1/models/{tree}:predict", json={"instances": [{}]}, headers=bearer(user)).get_json()
    assert all(abs(p * 10 - round(p * 10)) < 1e-9 for p in answer["predictions"][0]["probabilities"])

    specs = [[{"round": 0.01 * (i + 1)}] for i in range(16)]  # concurrent writers of one setting: no 500

    def put(spec: list[dict[str, float]]) -> int:
        return pg_app.test_client().put(url, json=spec, headers=ADMIN).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, specs)) == {200}
    assert client.get(url, headers=ADMIN).get_json()["spec"] in specs
    assert client.delete(url, headers=ADMIN).status_code == 204
    assert client.get(url, headers=ADMIN).get_json()["spec"] == []

    download = f"/admin/models/{tree}/download"
    with ThreadPoolExecutor(4) as pool:
        flags = [False, True, False, True]
        assert set(
            pool.map(
                lambda f: pg_app.test_client().put(download, json={"downloadable": f}, headers=ADMIN).status_code, flags
            )
        ) == {200}
    assert client.put(download, json={"downloadable": True}, headers=ADMIN).get_json()["downloadable"] is True


def test_uploads_are_stored(client: FlaskClient) -> None:
    user = new_user(client)
    long_name = "n" * 256  # the dataset and model inherit longer names than any VARCHAR(256)
    source = upload(client, user, name=long_name)
    dataset = created(post(client, user, "dataset", {"source": source["resource"]}), "dataset")
    model = created(post(client, user, "model", {"dataset": dataset["resource"]}), "model")
    assert model["name"].startswith(long_name) and len(model["name"]) > 256
    prediction = post(client, user, "prediction", {"model": model["resource"], "input_data": {"age": 55}})
    assert created(prediction, "prediction")["output"] in ("yes", "no")
    listed = client.get(f"/andromeda/model?{user.query}").get_json()["objects"]
    assert model["resource"] in {m["resource"] for m in listed}


def test_nothing_is_lost_across_a_restart(pg_app: Flask, postgres_url: str, tree: str) -> None:
    client = pg_app.test_client()
    user = new_user(client, row_budget=10)
    source = upload(client, user, CSV, name="kept")
    dataset = created(post(client, user, "dataset", {"source": source["resource"]}), "dataset")
    model = created(post(client, user, "model", {"dataset": dataset["resource"], "name": "kept"}), "model")
    assert client.put(f"/admin/users/{user.name}/defense", json=[{"top_k": 1}], headers=ADMIN).status_code == 200
    assert predictor(pg_app, tree, user, rows=4)(0) == 200
    pg_app.extensions["mlaas"].query_log.flush()  # what a graceful stop does (gunicorn's worker_exit)

    restarted = create_app(settings(postgres_url, ADMIN_KEY=None))  # would print a new key if admin were gone
    try:
        again = restarted.test_client()
        assert again.get(f"/admin/users/{user.name}", headers=ADMIN).get_json()["rows_used"] == 4
        assert again.get(f"/admin/users/{user.name}/defense", headers=ADMIN).get_json()["spec"] == [{"top_k": 1}]
        assert created(
            post(again, user, "prediction", {"model": model["resource"], "input_data": {"age": 30}}), "prediction"
        )["output"] in ("yes", "no")
        logged = again.get("/admin/query-log?limit=1000", headers=ADMIN).get_json()["queries"]
        assert any(q["username"] == user.name and q["rows"] == 4 and q["status"] == 200 for q in logged)
        with restarted.extensions["mlaas"].registry.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(users).where(users.c.is_admin)).scalar_one() == 1
    finally:
        shut(restarted)


def test_gunicorn_workers_share_one_budget(postgres: PostgresCluster, tmp_path: Path) -> None:
    """Two gunicorn workers, one PostgreSQL: the budget holds for the service, not per worker.

    Each worker takes one connection at a time, so that while one is busy the other must
    accept; and the budget is spent only once both answer (the server is ready as soon as
    one is). Otherwise one worker could take every request and prove nothing.
    """
    env = {
        "MLAAS_DATABASE_URL": postgres.database("mlaas_live"),
        "MLAAS_THREADS": "1",
        "GUNICORN_CMD_ARGS": "--worker-connections 1 --keep-alive 0",
    }
    server = start_server(tmp_path, workers=2, extra_env=env)
    try:
        tree_name = next(n for n in TREES if server.admin("GET", f"/v2/models/{n}").status_code == 200)
        key = server.create_user("shared", row_budget=30)

        def caller(key: str) -> Callable[[int], int]:
            def call(_: int) -> int:
                url = f"{server.url}/v1/models/{tree_name}:predict"
                return requests.post(
                    url, json={"instances": [{}]}, headers={"Authorization": f"Bearer {key}"}, timeout=60
                ).status_code

            return call

        def logged(username: str) -> list[dict[str, Any]]:
            time.sleep(0.3)  # the worker not answering this request writes its rows within 0.2 s
            queries = server.admin("GET", "/admin/query-log?limit=10000").json()["queries"]
            return [q for q in queries if q["username"] == username]

        deadline = time.monotonic() + 120
        while len({q["worker"] for q in logged("admin")}) < 2:
            assert time.monotonic() < deadline, "the second gunicorn worker never answered"
            concurrently(caller(server.admin_key), times=8)

        assert concurrently(caller(key), times=48) == Counter({200: 30, 429: 18})
        assert server.admin("GET", "/admin/users/shared").json()["rows_used"] == 30
        spent = logged("shared")
        assert Counter(q["status"] for q in spent) == Counter({200: 30, 429: 18})
        assert len({q["worker"] for q in spent}) == 2
    finally:
        stop_server(server)
