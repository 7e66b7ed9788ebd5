"""The runner's loop: claim queued jobs while a slot is free, run each in a thread of this process.

A job's thread only waits: the attack itself is another process (or a Dask
task). On start, jobs left "running" by a runner that is gone are queued again.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from app.core.jobs import JobQueue
from app.jobs.execute import JobContext, run_job


def identity() -> str:
    """This runner, as the jobs table records it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def runner_alive(runner: str) -> bool:
    """Another live runner process on this host (this process's own earlier jobs cannot be running yet)."""
    host, _, pid = runner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Runner:
    """Claims up to ``slots`` jobs at a time from ``queue``."""

    def __init__(
        self,
        queue: JobQueue,
        context: JobContext,
        slots: int,
        work: Callable[[dict, JobContext], str] = run_job,
        poll_seconds: float = 0.5,
    ) -> None:
        self.queue = queue
        self.context = context
        self.slots = slots
        self.work = work
        self.poll_seconds = poll_seconds
        self.name = identity()
        self.threads: list[threading.Thread] = []

    def step(self) -> int:
        """Start every job a free slot allows; returns how many started."""
        self.threads = [thread for thread in self.threads if thread.is_alive()]
        started = 0
        while (job := self.queue.claim(self.name, self.slots)) is not None:
            thread = threading.Thread(target=self.work, args=(job, self.context), name=f"job-{job['id']}", daemon=True)
            thread.start()
            self.threads.append(thread)
            started += 1
        return started

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Recover orphaned jobs, then serve the queue until ``keep_going()`` is false or ``stopping`` is set."""
        self.queue.recover(runner_alive)
        while keep_going() and not self.context.stopping.is_set():
            self.step()
            self.context.stopping.wait(self.poll_seconds)
        self.context.stopping.set()
        for thread in self.threads:
            thread.join()
