"""How a command's files come back from a Dask worker: written into the job's folder, by base name only."""

from __future__ import annotations

from pathlib import Path

from app.jobs.commands import DaskTask


class Finished:
    def __init__(self, outcome=None, error: Exception | None = None) -> None:
        self.outcome = outcome
        self.error = error
        self.cancelled = False

    def done(self) -> bool:
        return True

    def result(self):
        if self.error is not None:
            raise self.error
        return self.outcome

    def cancel(self) -> None:
        self.cancelled = True


def test_a_finished_task_writes_its_files_into_the_job_folder(tmp_path: Path) -> None:
    out = tmp_path / "job" / "people" / "3"
    task = DaskTask(Finished((0, "done", {"recon-3.png": b"png", "results.json": b"{}", "../escape": b"x"})), out)
    assert task.poll() == 0 and task.log() == "done"
    assert sorted(p.name for p in out.iterdir()) == ["escape", "recon-3.png", "results.json"]
    assert (out / "recon-3.png").read_bytes() == b"png" and not (tmp_path / "job" / "people" / "escape").exists()


def test_a_task_that_died_on_its_worker_is_a_failed_command(tmp_path: Path) -> None:
    task = DaskTask(Finished(error=RuntimeError("worker lost")), tmp_path / "out")
    assert task.poll() == 1 and "worker lost" in task.log()
