"""The service under evaluation: a fresh gunicorn on a free loopback port, or a given URL.

Only the operator's HTTP API is used (users, per-user defences, utility), so the
evaluation drives a remote deployment exactly as it drives its own server. The
server is started as a subprocess from the repository root; nothing of ``app``
is imported.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from attack_clients.clients.base import server_message

ROOT = Path(__file__).resolve().parents[2]


class ServiceError(RuntimeError):
    """The operator API refused a request (the message is the server's)."""


@dataclass(frozen=True)
class Service:
    """The admin's view of a running service."""

    url: str
    admin_key: str
    timeout: float = 300.0

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        response = requests.request(method, f"{self.url}{path}", headers=headers, timeout=self.timeout, **kwargs)
        if response.status_code >= 400:
            raise ServiceError(f"{method} {path}: HTTP {response.status_code}: {server_message(response)}")
        return response

    def served(self, names: Iterable[str]) -> list[str]:
        """Which of ``names`` the service serves (a model missing without data is no error)."""
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        return [
            name
            for name in names
            if requests.get(f"{self.url}/v2/models/{name}/ready", headers=headers, timeout=self.timeout).ok
        ]

    def create_user(self, username: str) -> str:
        """A new user's API key (no row budget or rate limit beyond the server's defaults)."""
        return str(self.request("POST", "/admin/users", json={"username": username}).json()["api_key"])

    def set_defence(self, username: str, spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Set a user's own defence (beats model and global settings); returns the stored spec."""
        return list(self.request("PUT", f"/admin/users/{username}/defense", json=spec).json()["spec"])

    def utility(self, model: str, spec: list[dict[str, Any]]) -> dict[str, Any]:
        """Held-out accuracy, log loss, Brier and mean change of ``model`` under ``spec``."""
        return dict(self.request("POST", f"/admin/models/{model}/utility", json=spec).json())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"gunicorn exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet
            pass
        time.sleep(0.3)
    raise ServiceError(f"gunicorn not ready after {timeout:.0f} s; see {log}")


def start_gunicorn(
    env: Mapping[str, str],
    log: Path,
    app: str = "wsgi:app",
    ready_path: str = "/v2/health/ready",
    timeout: float = 900.0,
) -> tuple[str, subprocess.Popen]:
    """gunicorn with the repository's config on a free loopback port, answering ``ready_path``.

    ``env`` is added to this process's environment; output goes to ``log``.
    Returns the base URL and the process (stop it with :func:`stop_gunicorn`).
    The benchmarks and the tests start their servers here too.
    """
    url = f"http://127.0.0.1:{free_port()}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app, "--bind", url.removeprefix("http://")],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(process, f"{url}{ready_path}", log, timeout)
    except ServiceError:
        stop_gunicorn(process)
        raise
    return url, process


def stop_gunicorn(process: subprocess.Popen, timeout: float = 60.0) -> None:
    """SIGTERM (workers flush their query logs), then SIGKILL after ``timeout``."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def local_service(log: Path, workers: int = 2, ready_timeout: float = 900.0) -> Iterator[Service]:
    """gunicorn on a free loopback port with a fresh database and admin key, stopped on exit.

    The model cache and ``MLAAS_DATA_DIR`` come from the environment, as for
    ``make serve``; the first start trains the zoo, later ones load it.
    """
    if not (ROOT / "wsgi.py").is_file():
        raise ServiceError(f"no wsgi.py under {ROOT}: pass --url and --key of a running service")
    admin_key = f"mk_{secrets.token_urlsafe(24)}"
    with tempfile.TemporaryDirectory(prefix="mlaas-evaluate-") as scratch:
        env = {
            "MLAAS_DATABASE_URL": f"sqlite:///{Path(scratch) / 'service.sqlite3'}",
            "MLAAS_ADMIN_KEY": admin_key,
            "MLAAS_WORKERS": str(workers),
        }
        url, process = start_gunicorn(env, log, timeout=ready_timeout)
        try:
            yield Service(url, admin_key)
        finally:
            stop_gunicorn(process)
