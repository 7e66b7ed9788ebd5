"""What every benchmark shares: starting gunicorn on a free port, users, /proc accounting."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import requests

from attack_clients.launcher import start_gunicorn as launch

ADMIN_KEY = "bench-admin-key-0123456789"


def start_gunicorn(
    tmp: Path, app: str = "wsgi:app", ready_path: str = "/v2/health/ready"
) -> tuple[str, subprocess.Popen]:
    """gunicorn with the repository's config (2 workers) serving ``app``; returns host and process."""
    env = {
        "MLAAS_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "MLAAS_ADMIN_KEY": ADMIN_KEY,
        "MLAAS_WORKERS": "2",
    }
    url, process = launch(env, tmp / f"gunicorn-{app.replace(':', '-')}.log", app, ready_path)
    return url.removeprefix("http://"), process


def create_user(host: str) -> str:
    response = requests.post(
        f"http://{host}/admin/users",
        json={"username": f"bench-{os.getpid()}-{time.time_ns()}"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["api_key"]


def gunicorn_workers(master: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` so far, from /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def resident_mb(pid: int) -> float:
    """Resident memory of one process, from /proc (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
