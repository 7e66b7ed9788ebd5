"""The attack-job queue: persisted in the database, recovered after a restart, cancellable, bounded by slots."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from app.core.accounts import Accounts
from app.core.defense_config import DefenseConfig
from app.core.errors import BadRequest
from app.core.jobs import CANCELLED, DONE, QUEUED, RUNNING, JobQueue
from app.jobs.execute import JobContext, run_job
from app.jobs.runner import Runner, identity, runner_alive
from app.storage.engine import make_engine

SPEC = [{"round": 0.05}]
PARAMS = {"profile": "tiny", "labels": [0], "max_rows": None}


@pytest.fixture()
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"


def submit(queue: JobQueue, attack: str = "mi-face-bb") -> dict:
    return queue.submit("admin", "faces-softmax", SPEC, attack, PARAMS, {"accuracy": 0.9, "clean_accuracy": 0.95})


def test_a_job_outlives_the_process_that_queued_it(database: str) -> None:
    job = submit(JobQueue(make_engine(database)))
    again = JobQueue(make_engine(database)).get(job["id"])  # a new engine: another worker, or after a restart
    assert again["status"] == QUEUED
    assert (again["spec"], again["params"], again["attack"]) == (SPEC, PARAMS, "mi-face-bb")
    assert again["utility"]["clean_accuracy"] == 0.95


def test_a_job_whose_runner_died_is_queued_again_and_claimed_by_the_next(database: str) -> None:
    queue = JobQueue(make_engine(database))
    job = submit(queue)
    assert queue.claim("gone-host:1", slots=1)["id"] == job["id"]
    queue.report(job["id"], {"rows": 40, "steps": 1})
    assert queue.claim("gone-host:1", slots=1) is None
    assert queue.recover(lambda runner: True) == []  # its runner still lives: left alone
    assert queue.recover(runner_alive) == [job["id"]]  # another host's runner is not ours to wait for
    restarted = JobQueue(make_engine(database))
    assert restarted.get(job["id"])["status"] == QUEUED
    assert restarted.get(job["id"])["progress"] == {"rows": 40, "steps": 1}
    claimed = restarted.claim(identity(), slots=1)
    assert (claimed["id"], claimed["status"], claimed["runner"]) == (job["id"], RUNNING, identity())


def test_a_second_job_waits_for_the_one_slot(database: str) -> None:
    queue = JobQueue(make_engine(database))
    first, second = submit(queue), submit(queue)
    assert queue.claim("r:1", slots=1)["id"] == first["id"]
    assert queue.claim("r:1", slots=1) is None
    assert queue.get(second["id"])["status"] == QUEUED
    queue.finish(first["id"], DONE, {"success": {"top1": 0.5}})
    assert queue.claim("r:1", slots=1)["id"] == second["id"]
    assert queue.get(first["id"])["outputs"] == {"success": {"top1": 0.5}}


def test_two_slots_run_two_jobs_side_by_side(database: str) -> None:
    queue = JobQueue(make_engine(database))
    jobs = [submit(queue) for _ in range(3)]
    release = threading.Event()
    started: list[str] = []

    def work(job: dict, context: JobContext) -> str:
        started.append(job["id"])
        release.wait(10)
        queue.finish(job["id"], DONE, {})
        return DONE

    runner = Runner(queue, _context(queue, Path("."), None), slots=2, work=work)
    assert runner.step() == 2
    assert sorted(started) == sorted(job["id"] for job in jobs[:2])
    assert queue.get(jobs[2]["id"])["status"] == QUEUED
    release.set()
    for thread in runner.threads:
        thread.join(10)
    assert runner.step() == 1
    for thread in runner.threads:
        thread.join(10)
    assert [queue.get(job["id"])["status"] for job in jobs] == [DONE] * 3


def test_cancelling_a_queued_job_is_immediate_and_a_finished_one_refused(database: str) -> None:
    queue = JobQueue(make_engine(database))
    job = submit(queue)
    assert queue.cancel(job["id"])["status"] == CANCELLED
    assert queue.claim("r:1", slots=1) is None
    with pytest.raises(BadRequest):
        queue.cancel(job["id"])


class Endless:
    """A command that runs until stopped."""

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def poll(self) -> int | None:
        return 1 if self.stopped.is_set() else None

    def stop(self) -> None:
        self.stopped.set()

    def log(self) -> str:
        return ""


class FakeLauncher:
    def __init__(self) -> None:
        self.started: list[tuple[list[str], Endless]] = []

    def start(self, arguments, out):
        command = Endless()
        self.started.append((list(arguments), command))
        return command

    def close(self) -> None:
        pass


def _context(queue: JobQueue, folder: Path, launcher) -> JobContext:
    engine = queue.engine
    return JobContext(
        queue=queue,
        accounts=Accounts(engine, None, None),
        defenses=DefenseConfig(engine, 0),
        url="http://127.0.0.1:9",
        folder=folder,
        launcher=launcher,
        poll_seconds=0.05,
    )


@pytest.mark.parametrize(
    ("attack", "command", "first_labels"),
    [("mi-face-bb", "mi-face", "0"), ("extract-invert", "extract-invert", "0,1")],
    ids=["mi-face-one-person-at-a-time", "extraction-once-for-everyone"],
)
def test_cancelling_a_running_job_stops_its_command_and_retires_its_user(
    database: str, tmp_path: Path, attack: str, command: str, first_labels: str
) -> None:
    queue = JobQueue(make_engine(database))
    launcher = FakeLauncher()
    context = _context(queue, tmp_path / "jobs", launcher)
    job = queue.submit("admin", "faces-softmax", SPEC, attack, {**PARAMS, "labels": [0, 1]}, None)
    claimed = queue.claim("r:1", slots=1)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(run_job(claimed, context)), daemon=True)
    thread.start()
    try:
        cancel_while_running(queue, context, launcher, job, command, first_labels)
        thread.join(20)
    finally:
        context.stopping.set()  # a failed check must not leave the job's thread polling forever
    assert outcome == [CANCELLED] and len(launcher.started) == 1
    final = queue.get(job["id"])
    assert final["status"] == CANCELLED and final["error"] == "cancelled by the operator"
    assert context.accounts.describe(final["username"])["row_budget"] == 0


def cancel_while_running(queue, context, launcher, job, command: str, first_labels: str) -> None:
    deadline = time.monotonic() + 120  # the first job imports the attack registry (torch): slow on a busy machine
    while not launcher.started and time.monotonic() < deadline:
        time.sleep(0.05)
    arguments, running = launcher.started[0]
    assert arguments[0] == command and arguments[arguments.index("--labels") + 1] == first_labels
    assert "--no-eval" in arguments  # the panel judges every reconstruction together at the end
    username = queue.get(job["id"])["username"]
    assert context.defenses.get("user", username) == SPEC  # the candidate is the throwaway user's own defence
    assert queue.cancel(job["id"])["status"] == RUNNING  # asked to stop; the runner does the stopping
    deadline = time.monotonic() + 120  # the first job imports the attack registry (torch): slow on a busy machine
    while not running.stopped.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.stopped.is_set()


def test_a_job_queued_again_skips_the_people_already_done(database: str, tmp_path: Path) -> None:
    queue = JobQueue(make_engine(database))
    launcher = FakeLauncher()
    context = _context(queue, tmp_path / "jobs", launcher)
    job = queue.submit("admin", "faces-softmax", SPEC, "mi-face-bb", {**PARAMS, "labels": [0, 1]}, None)
    done = context.folder / job["id"] / "people" / "0"  # what the runner that died had finished
    done.mkdir(parents=True)
    (done / "results.json").write_text('{"classes": ["a", "b"], "rows": 69, "per_label": [{"label": 0}]}')
    (done.parent.parent / "recon-0.png").write_bytes(b"png")
    claimed = queue.claim("r:1", slots=1)
    thread = threading.Thread(target=run_job, args=(claimed, context), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120  # the first job imports the attack registry (torch): slow on a busy machine
        while not launcher.started and time.monotonic() < deadline:
            time.sleep(0.05)
        arguments, _ = launcher.started[0]
        assert arguments[arguments.index("--labels") + 1] == "1"
        progress = queue.get(job["id"])["progress"]
        assert progress["people"]["0"]["rows"] == 69 and progress["steps"] == 1
    finally:
        context.stopping.set()
        thread.join(20)
    assert queue.get(job["id"])["status"] == RUNNING  # a stopping runner leaves it for the next one
