"""One attack job: a throwaway user with the candidate defence, the attack over HTTP, the judges' verdict.

The user is created through the core (its own defence beats every model and
global setting, so nobody else's answers change) and retired afterwards (row
budget 0). MI-Face runs once per person, so each reconstruction appears in the
job's folder as soon as it exists, and a job picked up again after a restart
skips the people already done; the panel then judges them together
(``python -m attack_clients judge``). Other attacks are one command.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.accounts import Accounts
from app.core.defense_config import DefenseConfig
from app.core.jobs import CANCELLED, DONE, FAILED, JobQueue
from app.jobs.commands import Launcher, LocalProcess, Running

UNLIMITED_ROWS = 10**15
"""The budget of a job without one: a budget is what makes the service count the user's rows."""


class Cancelled(Exception):
    """The operator cancelled the job."""


class Interrupted(Exception):
    """The runner is stopping: the job stays "running" and is queued again when a runner next starts."""


class JobFailed(Exception):
    """The attack could not run or crashed (the message says why)."""


@dataclass
class JobContext:
    """What a job needs of the service and of the runner."""

    queue: JobQueue
    accounts: Accounts
    defenses: DefenseConfig
    url: str
    folder: Path
    launcher: Launcher
    data_dir: str | None = None
    poll_seconds: float = 0.5
    stopping: threading.Event = field(default_factory=threading.Event)


class Job:
    """A claimed job while it runs: its user, folder, clock and progress."""

    def __init__(self, job: dict[str, Any], context: JobContext) -> None:
        self.job = job
        self.context = context
        self.out = context.folder / job["id"]
        self.started = time.monotonic()
        self.max_rows: int | None = job["params"].get("max_rows")
        self.username = f"job-{job['id']}-{secrets.token_hex(2)}"
        self.key = ""
        self.progress: dict[str, Any] = {"rows": 0, "steps": 0, "total_steps": 0, "people": {}}

    def rows_used(self) -> int:
        return int(self.context.accounts.describe(self.username)["rows_used"])

    def report(self, **changes: Any) -> None:
        self.progress.update(changes, elapsed=time.monotonic() - self.started, rows=self.rows_used())
        self.context.queue.report(self.job["id"], self.progress, self.username)

    def create_user(self) -> None:
        budget = self.max_rows if self.max_rows is not None else UNLIMITED_ROWS
        self.key = self.context.accounts.create_user(self.username, row_budget=budget)
        self.context.defenses.put("user", self.username, self.job["spec"])

    def retire_user(self) -> None:
        if self.key:
            self.context.accounts.set_limits(self.username, {"row_budget": 0})

    def wait(self, running: Running) -> int:
        """Poll a command to its end, reporting progress; stop it on cancellation."""
        while (code := running.poll()) is None:
            if self.context.queue.cancel_requested(self.job["id"]):
                running.stop()
                raise Cancelled()
            if self.context.stopping.is_set():
                running.stop()
                raise Interrupted()
            self.report()
            time.sleep(self.context.poll_seconds)
        return code

    def target(self) -> list[str]:
        arguments = ["--url", self.context.url, "--key", self.key, "--model", self.job["model"]]
        if self.max_rows is not None:
            arguments += ["--max-rows", str(max(1, self.max_rows - self.rows_used()))]
        return arguments


def _attack(name: str, profile: str) -> tuple[Any, Any]:
    from attack_clients.attacks import ATTACKS
    from attack_clients.evaluate.sweep import PROFILES

    attack = ATTACKS[name]
    return attack, PROFILES[profile].params_for(attack)


def _log_reason(log: str) -> str:
    lines = [line for line in log.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


PER_PERSON_COMMANDS = ("mi-face",)
"""Face attacks whose people are independent descents: run one person at a time, so reconstructions appear
one by one at no extra cost. The others (a surrogate extracted, a decoder or a GAN trained) would repeat that
work, and its queries, for every person: they run once for everyone."""


def run_faces(run: Job, attack: Any, params: Any) -> dict[str, Any]:
    """The attack per person (or once for all), then the panel over every reconstruction."""
    labels = [int(label) for label in run.job["params"]["labels"]]
    groups = [[label] for label in labels] if attack.command.name in PER_PERSON_COMMANDS else [labels]
    people: dict[str, Any] = run.progress["people"]
    run.report(total_steps=len(groups) + 1, phase="attacking")
    stopped = None
    for step, group in enumerate(groups, start=1):
        folder = run.out / "people" / (str(group[0]) if len(group) == 1 else "all")
        done = (folder / "results.json").is_file() and all((run.out / f"recon-{v}.png").is_file() for v in group)
        if not done:
            if run.max_rows is not None and run.rows_used() >= run.max_rows:
                stopped = "row budget spent"
                break
            run.report(current=group[0] if len(group) == 1 else None)
            batch = dataclasses.replace(params, labels=tuple(group), no_eval=True, quiet=True)
            running = run.context.launcher.start([*attack.arguments(batch), *run.target()], folder)
            code = run.wait(running)
            if code == 2:
                raise JobFailed(f"not applicable: {_log_reason(running.log())}")
            if code != 0:
                if "QueryBudgetExceeded" in running.log():
                    stopped = "row budget spent"
                    break
                raise JobFailed(f"{attack.name} on {group} exited with {code}: {_log_reason(running.log())}")
            for label in group:
                shutil.copyfile(folder / f"recon-{label}.png", run.out / f"recon-{label}.png")
        people.update({str(label): _person(folder, label) for label in group})
        run.report(steps=step)
    if not people:
        return {"success": {"top1": None, "reason": stopped or "no reconstruction"}, "stopped": stopped}
    run.report(phase="judging", current=None)
    verdict = judge(run, people)
    run.report(steps=len(groups) + 1, phase="judged")
    return {**verdict, "stopped": stopped}


def _person(folder: Path, label: int) -> dict[str, Any]:
    document = json.loads((folder / "results.json").read_text())
    entry = next((p for p in document.get("per_label", []) if p.get("label") == label), {})
    return {
        "label": label,
        "class": document["classes"][label],
        "rows": document.get("rows_per_identity", document.get("rows")),
        "seconds": document.get("seconds"),
        "confidence": entry.get("confidence"),
        "iterations": entry.get("iterations"),
        "stop": entry.get("stop"),
    }


def judge(run: Job, people: dict[str, Any]) -> dict[str, Any]:
    """The judging panel on the job's reconstructions, together (``judged.json``), or why it could not judge."""
    from attack_clients.judges.summary import flat

    first = json.loads(next((run.out / "people").glob("*/results.json")).read_text())
    (run.out / "results.json").write_text(json.dumps({"model": run.job["model"], "classes": first["classes"]}))
    arguments = ["judge", str(run.out), "--model", run.job["model"]]
    code = run.wait(LocalProcess(arguments, run.out / "judge", with_out=False))
    judged_path = run.out / "judged.json"
    if code != 0 or not judged_path.is_file():
        log = (run.out / "judge" / "command.log").read_text(errors="replace")
        return {"success": {"top1": None, "reason": f"not judged: {_log_reason(log)}"}, "metrics": {}}
    judged = json.loads(judged_path.read_text())
    return {"success": judged["success"], "data": judged["data"], "metrics": flat(judged["judges"])}


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    elif isinstance(value, int | float | type(None)) and not isinstance(value, bool):
        into[prefix] = value
    return into


def run_tree(run: Job, attack: Any, params: Any) -> dict[str, Any]:
    """One command; success is the attack's precision on the training targets, as in the evaluation."""
    if run.context.data_dir and hasattr(params, "data_dir"):
        params = dataclasses.replace(params, data_dir=Path(run.context.data_dir))
    run.report(total_steps=1, phase="attacking")
    running = run.context.launcher.start([*attack.arguments(params), *run.target()], run.out)
    code = run.wait(running)
    if code == 2:
        raise JobFailed(f"not applicable: {_log_reason(running.log())}")
    if code != 0:
        raise JobFailed(f"{attack.name} exited with {code}: {_log_reason(running.log())}")
    document = json.loads((run.out / "results.json").read_text())
    metrics = _flatten("", document.get("metrics") or {}, {})
    success = metrics.get("training.attack.precision")
    run.report(steps=1)
    reason = None if success is not None else "the attack guessed no positive: precision undefined"
    return {"success": {"judge": "training precision", "top1": success, "reason": reason}, "metrics": metrics}


def run_job(job: dict[str, Any], context: JobContext) -> str:
    """Run a claimed job to its end and record the outcome; returns the final status."""
    run = Job(job, context)
    run.out.mkdir(parents=True, exist_ok=True)
    status: str | None = FAILED
    outputs, error = None, None
    try:
        run.create_user()
        attack, params = _attack(job["attack"], job["params"]["profile"])
        body = run_faces if attack.family == "face" else run_tree
        outputs = body(run, attack, params)
        status = DONE
    except Cancelled:
        status, error = CANCELLED, "cancelled by the operator"
    except Interrupted:
        status = None
    except JobFailed as failure:
        error = str(failure)
    except Exception as failure:  # the runner outlives any one job; the job records why it died
        error = f"{type(failure).__name__}: {failure}"
    finally:
        try:
            run.progress.update(elapsed=time.monotonic() - run.started, rows=run.rows_used() if run.key else 0)
        finally:
            run.retire_user()
    context.queue.report(job["id"], run.progress)
    if status is None:
        return "interrupted"
    outputs = {**(outputs or {}), "rows": run.progress["rows"], "seconds": run.progress["elapsed"]}
    context.queue.finish(job["id"], status, outputs, error)
    return status
