"""Starting and stopping the service under gunicorn on a free loopback port: the one launcher.

The tests, the benchmarks and ``python -m attack_clients evaluate`` (without ``--url``)
all start their servers here. It lives in ``attack_clients`` because the evaluation
command needs it and that package never imports ``app``: the server is a subprocess
(``gunicorn -c gunicorn.conf.py APP`` from the repository root), watched over HTTP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
"""The repository root, where ``wsgi.py`` and ``gunicorn.conf.py`` are."""


class LaunchError(RuntimeError):
    """gunicorn exited or did not answer in time (the message ends with its log)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(process: subprocess.Popen, url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LaunchError(f"gunicorn exited ({process.returncode}): {log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet
            pass
        time.sleep(0.3)
    raise LaunchError(f"gunicorn not ready after {timeout:.0f} s; see {log}")


def start_gunicorn(
    env: Mapping[str, str],
    log: Path,
    app: str = "wsgi:app",
    ready_path: str = "/v2/health/ready",
    timeout: float = 900.0,
) -> tuple[str, subprocess.Popen]:
    """gunicorn with the repository's config on a free loopback port, answering ``ready_path``.

    ``env`` is added to this process's environment; output goes to ``log``. Returns the
    base URL and the process (stop it with :func:`stop_gunicorn`). The first start may
    train the zoo, hence the long default ``timeout``.
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
    except LaunchError:
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
