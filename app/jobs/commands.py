"""Running one ``python -m attack_clients`` command: a local process group, or a task on a Dask cluster.

A command is started, polled and, on cancellation, stopped. Locally it writes
straight into its output folder; on Dask it runs in a scratch folder on the
worker and its files come back with the result, so workers need no shared disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[2]
LOG_TAIL = 4000


class Running(Protocol):
    """A started command."""

    def poll(self) -> int | None:
        """Its exit code once it has ended (its files are then in the output folder), else None."""

    def stop(self) -> None:
        """End it now (cancellation)."""

    def log(self) -> str:
        """The end of its output."""


class Launcher(Protocol):
    def start(self, arguments: Sequence[str], out: Path) -> Running: ...

    def close(self) -> None: ...


def _environment() -> dict[str, str]:
    """The runner's environment, on one math thread (the machine's cores are the service's)."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class LocalProcess:
    """A command in its own process group, so a cancellation stops its children too.

    Its output goes to ``out/command.log``; ``with_out`` passes ``--out out`` (every attack takes it).
    """

    def __init__(self, arguments: Sequence[str], out: Path, with_out: bool = True) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.log_path = out / "command.log"
        destination = ["--out", str(out)] if with_out else []
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "attack_clients", *arguments, *destination],
                cwd=ROOT,
                env=_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-LOG_TAIL:] if self.log_path.is_file() else ""


class LocalLauncher:
    def start(self, arguments: Sequence[str], out: Path) -> Running:
        return LocalProcess(arguments, out)

    def close(self) -> None:
        """Nothing held between commands."""


def run_in_scratch(arguments: Sequence[str]) -> tuple[int, str, dict[str, bytes]]:
    """Run a command in a scratch folder (on a Dask worker): exit code, output tail, files by name."""
    with tempfile.TemporaryDirectory(prefix="mlaas-job-") as scratch:
        out = Path(scratch) / "out"
        done = subprocess.run(
            [sys.executable, "-m", "attack_clients", *arguments, "--out", str(out)],
            env=_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        files = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} if out.is_dir() else {}
        return done.returncode, (done.stdout + done.stderr)[-LOG_TAIL:], files


class DaskTask:
    """A command submitted to the cluster; its files are written into ``out`` when it ends."""

    def __init__(self, future: Any, out: Path) -> None:
        self.future = future
        self.out = out
        self.code: int | None = None
        self.output = ""

    def poll(self) -> int | None:
        if self.code is None and self.future.done():
            try:
                self.code, self.output, files = self.future.result()
            except Exception as error:  # the worker died or the task raised: the command failed
                self.code, self.output, files = 1, f"Dask task failed: {error!r}", {}
            self.out.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                (self.out / Path(name).name).write_bytes(content)
        return self.code

    def stop(self) -> None:
        self.future.cancel()

    def log(self) -> str:
        return self.output


class DaskLauncher:
    def __init__(self, address: str) -> None:
        from distributed import Client

        self.client = Client(address)

    def start(self, arguments: Sequence[str], out: Path) -> Running:
        return DaskTask(self.client.submit(run_in_scratch, list(arguments), pure=False), out)

    def close(self) -> None:
        self.client.close()


def launcher(scheduler: str | None) -> Launcher:
    return DaskLauncher(scheduler) if scheduler else LocalLauncher()
