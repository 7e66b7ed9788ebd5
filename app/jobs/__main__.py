"""``python -m app.jobs --url URL``: the job runner (gunicorn's master starts it; it stops with its parent)."""

from __future__ import annotations

import argparse
import os
import signal

from app.config import INSTANCE_PATH, from_environment
from app.core.accounts import Accounts
from app.core.defense_config import DefenseConfig
from app.core.jobs import JobQueue
from app.jobs.catalogue import write_catalogue
from app.jobs.commands import launcher
from app.jobs.config import job_settings
from app.jobs.execute import JobContext
from app.jobs.runner import Runner
from app.storage.engine import make_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.jobs", description=__doc__)
    parser.add_argument("--url", required=True, help="the service's base URL, which the attacks query over HTTP")
    args = parser.parse_args(argv)
    settings = from_environment(INSTANCE_PATH)
    jobs = job_settings()
    engine = make_engine(settings["DATABASE_URL"])
    write_catalogue(jobs.folder)
    context = JobContext(
        queue=JobQueue(engine),
        accounts=Accounts(engine, None, None),
        defenses=DefenseConfig(engine, 0),
        url=args.url,
        folder=jobs.folder,
        launcher=launcher(jobs.scheduler),
        data_dir=str(settings["DATA_DIR"]) if settings["DATA_DIR"] else None,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: context.stopping.set())
    parent = os.getppid()
    try:
        Runner(context.queue, context, jobs.slots).run(keep_going=lambda: os.getppid() == parent)
    finally:
        context.launcher.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
