"""The attack-job queue: one table for the whole service, so a page reload or a worker restart loses nothing.

Web workers only submit, read and cancel; the job runner (``app.jobs``, a process
of its own) claims queued jobs, reports progress and records the outcome. Every
transition is a conditional update on the status, so a job is claimed once and a
cancellation never races a finish into an inconsistent row.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, func, select

from app.core.errors import BadRequest, NotFound
from app.storage.tables import jobs

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
JSON_COLUMNS = ("spec", "params", "utility", "progress", "outputs")


def _row(row: Any) -> dict[str, Any]:
    job = dict(row._mapping)
    for column in JSON_COLUMNS:
        job[column] = json.loads(job[column]) if job[column] is not None else None
    job["cancel_requested"] = bool(job["cancel_requested"])
    return job


class JobQueue:
    """Submit, list, cancel (web workers); claim, report, finish, recover (the runner)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def submit(
        self,
        owner: str,
        model: str,
        spec: list[Any],
        attack: str,
        params: Mapping[str, Any],
        utility: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new queued job (its id is random: output folders of several services never collide)."""
        job_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id, owner=owner, model=model, spec=json.dumps(spec), attack=attack,
                    params=json.dumps(dict(params)), utility=json.dumps(utility) if utility is not None else None,
                    status=QUEUED, cancel_requested=False, progress="{}", created_at=time.time(),
                )
            )
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return _row(row)

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest jobs first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)).all()
        return [_row(row) for row in rows]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """A queued job is cancelled at once; a running one is asked to stop (the runner kills it)."""
        job = self.get(job_id)
        if job["status"] in FINISHED:
            raise BadRequest(f"job {job_id} has already finished ({job['status']})")
        with self.engine.begin() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == QUEUED)
                .values(status=CANCELLED, cancel_requested=True, finished_at=time.time())
            )
            running = jobs.update().where(jobs.c.id == job_id, jobs.c.status == RUNNING)
            conn.execute(running.values(cancel_requested=True))
        return self.get(job_id)

    def running(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs).where(jobs.c.status == RUNNING)).scalar())

    def claim(self, runner: str, slots: int) -> dict[str, Any] | None:
        """The oldest queued job, now running under ``runner``; None when none waits or all ``slots`` are busy."""
        if self.running() >= slots:
            return None
        with self.engine.begin() as conn:
            candidates = conn.execute(
                select(jobs.c.id).where(jobs.c.status == QUEUED).order_by(jobs.c.created_at).limit(5)
            ).all()
            for (job_id,) in candidates:
                claimed = conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id, jobs.c.status == QUEUED)
                    .values(status=RUNNING, runner=runner, started_at=time.time())
                )
                if claimed.rowcount == 1:
                    break
            else:
                return None
        return self.get(job_id)

    def report(self, job_id: str, progress: Mapping[str, Any], username: str | None = None) -> None:
        """The running job's progress (and, once known, its throwaway user)."""
        values: dict[str, Any] = {"progress": json.dumps(dict(progress))}
        if username is not None:
            values["username"] = username
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == RUNNING).values(**values))

    def cancel_requested(self, job_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == job_id)).scalar())

    def finish(
        self, job_id: str, status: str, outputs: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None:
        """Record a running job's outcome (done, failed or cancelled)."""
        if status not in FINISHED:
            raise ValueError(f"{status!r} is not a final status")
        with self.engine.begin() as conn:
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == RUNNING)
                .values(
                    status=status,
                    outputs=json.dumps(dict(outputs)) if outputs is not None else None,
                    error=error,
                    finished_at=time.time(),
                )
            )

    def recover(self, alive: Callable[[str], bool]) -> list[str]:
        """Jobs whose runner is gone: queued again (their finished parts are kept on disk and reused),
        or cancelled when a cancellation was pending. Returns the ids queued again."""
        with self.engine.begin() as conn:
            columns = select(jobs.c.id, jobs.c.runner, jobs.c.cancel_requested)
            orphans = conn.execute(columns.where(jobs.c.status == RUNNING))
            requeued = []
            for job_id, runner, cancel in orphans.all():
                if runner is not None and alive(runner):
                    continue
                values = {"status": CANCELLED, "finished_at": time.time()} if cancel else {"status": QUEUED}
                conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.status == RUNNING).values(**values))
                if not cancel:
                    requeued.append(job_id)
        return requeued
