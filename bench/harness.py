"""What every benchmark shares: starting gunicorn on a free port, users, /proc accounting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bench-admin-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    tmp: Path, app: str = "wsgi:app", ready_path: str = "/v2/health/ready"
) -> tuple[str, subprocess.Popen]:
    """gunicorn with the repository's config (2 workers) serving ``app``; returns host and process."""
    port = free_port()
    env = {
        **os.environ,
        "MLAAS_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
        "MLAAS_ADMIN_KEY": ADMIN_KEY,
        "MLAAS_WORKERS": "2",
    }
    log = tmp / f"gunicorn-{port}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app, "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}{ready_path}", timeout=2).status_code == 200:
                return f"127.0.0.1:{port}", process
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not become ready")


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
