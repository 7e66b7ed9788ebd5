"""The job runner's settings, read by the runner and by the web workers that serve its files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.config import INSTANCE_PATH


@dataclass(frozen=True)
class JobSettings:
    """``MLAAS_JOB_SLOTS`` jobs at once (a further job waits), outputs under ``MLAAS_JOBS_DIR``,
    attacks on a Dask cluster when ``MLAAS_DASK_SCHEDULER`` names one (local processes otherwise),
    and the evaluation whose ``results.json`` the page compares with (``MLAAS_EVALUATION_DIR``)."""

    slots: int
    folder: Path
    scheduler: str | None
    evaluation: Path


def job_settings() -> JobSettings:
    return JobSettings(
        slots=max(1, int(os.environ.get("MLAAS_JOB_SLOTS") or 1)),
        folder=Path(os.environ.get("MLAAS_JOBS_DIR") or INSTANCE_PATH / "jobs"),
        scheduler=os.environ.get("MLAAS_DASK_SCHEDULER") or None,
        evaluation=Path(os.environ.get("MLAAS_EVALUATION_DIR") or INSTANCE_PATH.parent / "out"),
    )
