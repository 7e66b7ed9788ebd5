"""Fixtures shared by every test package: an in-process app and a live gunicorn server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "test-admin-key-0123456789"
MODEL_CACHE = ROOT / "instance" / "models"


def data_dir() -> Path | None:
    """The real data when the environment names it (CI does), else the built-in fallbacks."""
    raw = os.environ.get("MLAAS_DATA_DIR")
    return Path(raw).resolve() if raw else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    port = free_port()
    database_url = f"sqlite:///{tmp / 'live.sqlite3'}"
    env = {
        **os.environ,
        "MLAAS_DATABASE_URL": database_url,
        "MLAAS_ADMIN_KEY": ADMIN_KEY,
        "MLAAS_CACHE_DIR": str(MODEL_CACHE),
        "MLAAS_WORKERS": str(workers),
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / "gunicorn.log", "w"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {(tmp / 'gunicorn.log').read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return LiveServer(url, ADMIN_KEY, database_url, process)
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or workers still booting
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not become ready in time")


def stop_server(server: LiveServer) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One gunicorn with two workers for the whole session (tests make their own users)."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    stop_server(server)
