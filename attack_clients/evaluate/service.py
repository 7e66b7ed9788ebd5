"""The service under evaluation: a fresh gunicorn on a free loopback port, or a given URL.

Only the operator's HTTP API is used (users, per-user defences, utility), so the
evaluation drives a remote deployment exactly as it drives its own server, which
``attack_clients.launcher`` starts as a subprocess; nothing of ``app`` is imported.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from attack_clients.clients.base import server_message
from attack_clients.launcher import ROOT, LaunchError, start_gunicorn, stop_gunicorn


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

    def model_info(self, name: str) -> dict[str, Any]:
        """What the v2 metadata says of a model besides its schema: data set, held-out accuracy,
        training defence and privacy budget (absent keys stay absent)."""
        parameters = self.request("GET", f"/v2/models/{name}").json().get("parameters") or {}
        skip = {"fields", "classes", "training_rows", "heldout_rows", "image_shape"}
        return {key: value for key, value in parameters.items() if key not in skip}

    def create_user(self, username: str) -> str:
        """A new user's API key (no row budget or rate limit beyond the server's defaults)."""
        return str(self.request("POST", "/admin/users", json={"username": username}).json()["api_key"])

    def set_defense(self, username: str, spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Set a user's own defence (beats model and global settings); returns the stored spec."""
        return list(self.request("PUT", f"/admin/users/{username}/defense", json=spec).json()["spec"])

    def utility(self, model: str, spec: list[dict[str, Any]]) -> dict[str, Any]:
        """Held-out accuracy, log loss, Brier and mean change of ``model`` under ``spec``."""
        return dict(self.request("POST", f"/admin/models/{model}/utility", json=spec).json())


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
        try:
            url, process = start_gunicorn(env, log, timeout=ready_timeout)
        except LaunchError as exc:
            raise ServiceError(str(exc)) from exc
        try:
            yield Service(url, admin_key)
        finally:
            stop_gunicorn(process)
