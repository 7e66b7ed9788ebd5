"""Fixtures shared by every test package: an in-process app and a live gunicorn server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from attack_clients.launcher import start_gunicorn, stop_gunicorn

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("MLAAS_TRAINING_DEFENSES", "none")  # too slow for the suite: tests/app/zoo/defended train theirs
ADMIN_KEY = "test-admin-key-0123456789"
MODEL_CACHE = ROOT / "instance" / "models"


def data_dir() -> Path | None:
    """The real data when the environment names it (CI does), else the built-in fallbacks."""
    raw = os.environ.get("MLAAS_DATA_DIR")
    return Path(raw).resolve() if raw else None


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory):
    """The Flask app in-process, on its own SQLite file and the shared model cache."""
    from app import create_app

    db = tmp_path_factory.mktemp("db") / "app.sqlite3"
    return create_app(
        {
            "DATABASE_URL": f"sqlite:///{db}",
            "ADMIN_KEY": ADMIN_KEY,
            "DATA_DIR": data_dir(),
            "CACHE_DIR": MODEL_CACHE,
            "TESTING": True,
        }
    )


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class LiveServer:
    """A gunicorn server on a free loopback port, as users run it."""

    url: str
    admin_key: str
    database_url: str
    process: subprocess.Popen

    def create_user(self, username: str, **limits: int | None) -> str:
        response = requests.post(
            f"{self.url}/admin/users",
            json={"username": username, **limits},
            headers={"Authorization": f"Bearer {self.admin_key}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["api_key"]

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)


def start_server(tmp: Path, workers: int = 2, extra_env: dict[str, str] | None = None) -> LiveServer:
    env = {
        "MLAAS_DATABASE_URL": f"sqlite:///{tmp / 'live.sqlite3'}",
        "MLAAS_ADMIN_KEY": ADMIN_KEY,
        "MLAAS_CACHE_DIR": str(MODEL_CACHE),
        "MLAAS_WORKERS": str(workers),
        **(extra_env or {}),
    }
    url, process = start_gunicorn(env, tmp / "gunicorn.log", timeout=600)
    return LiveServer(url, ADMIN_KEY, env["MLAAS_DATABASE_URL"], process)


def stop_server(server: LiveServer) -> None:
    stop_gunicorn(server.process)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One gunicorn with two workers for the whole session (tests make their own users)."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    stop_server(server)
