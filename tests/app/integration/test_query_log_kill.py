"""No answered query loses its log row when gunicorn workers are SIGKILLed under load.

Client threads (one user each) send predictions while every original worker of a 2-worker
gunicorn is killed in turn; after each kill the load goes on for 3 s and until 300 more
requests are answered (every wait is bounded), and then the server stops. An answered
request is one whose status reached the client; a request cut off by the kill may or
may not have its row (it was never answered). The counts are compared per user, status
and row count, since rows carry nothing else a client knows.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.conftest import LiveServer, start_server, stop_server

TREES = ("fair-tree", "steak-tree", "gss-tree")
THREADS = 4
ANSWERS_BETWEEN_KILLS = 300
SECONDS_BETWEEN_KILLS = 3.0


def workers(master: int) -> set[int]:
    """gunicorn's workers: the master's children but the helpers it starts beside them (job runner, trainer)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children if b"gunicorn" in command_line(pid)}


def command_line(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # gone since the listing
        return b""


def wait_for_replacement(master: int, killed: int, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = workers(master)
        if killed not in alive and len(alive) == count:
            return
        time.sleep(0.05)
    pytest.fail(f"gunicorn did not replace worker {killed} within {timeout:.0f} s")


def answered(clients: list[Client]) -> int:
    return sum(client.answered.total() for client in clients)


def wait_for_answers(clients: list[Client], more: int, timeout: float = 120.0) -> None:
    """Until the clients have ``more`` answers than now: the service serves (again)."""
    target, deadline = answered(clients) + more, time.monotonic() + timeout
    while answered(clients) < target:
        if time.monotonic() > deadline:
            pytest.fail(f"the service gave fewer than {more} answers in {timeout:.0f} s")
        time.sleep(0.05)


class Client(threading.Thread):
    """One user sending single- and multi-row predictions (and a few 404s) until told to stop."""

    def __init__(self, server: LiveServer, tree: str, name: str, stop: threading.Event) -> None:
        super().__init__(name=name)
        self.server, self.tree, self.stop = server, tree, stop
        self.username = name
        self.key = server.create_user(name)
        self.answered: Counter[tuple[int, int]] = Counter()  # (status, rows) -> requests answered
        self.cut_off = 0
        self.unexpected: list[str] = []

    def session(self) -> requests.Session:
        session = requests.Session()
        session.mount("http://", HTTPAdapter(max_retries=0))  # a resent request would be logged twice
        session.headers["Authorization"] = f"Bearer {self.key}"
        return session

    def run(self) -> None:
        session, sent = self.session(), 0
        while not self.stop.is_set():
            sent += 1
            rows = 1 + sent % 3
            model = self.tree if sent % 10 else "no-such-model"
            try:
                response = session.post(
                    f"{self.server.url}/v1/models/{model}:predict",
                    json={"instances": [{}] * rows},
                    timeout=60,
                    stream=True,  # the status counts as the answer, even if the kill cuts the body off
                )
            except requests.ConnectionError:
                self.cut_off += 1
                session = self.session()
                continue
            self.answered[response.status_code, rows if response.status_code == 200 else 0] += 1
            try:
                body = response.content
            except requests.RequestException:
                session = self.session()
                continue
            if response.status_code not in (200, 404):
                self.unexpected.append(f"{response.status_code}: {body[:200]!r}")


def logged(database: Path) -> dict[str, Counter[tuple[int, int]]]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT users.username, query_log.status, query_log.rows FROM query_log "
            "JOIN users ON users.id = query_log.user_id"
        ).fetchall()
    counts: dict[str, Counter[tuple[int, int]]] = {}
    for username, status, count in rows:
        counts.setdefault(username, Counter())[status, count] += 1
    return counts


def test_no_answered_query_loses_its_log_row_when_workers_are_killed(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers=2)
    database = tmp_path / "live.sqlite3"
    try:
        headers = {"Authorization": f"Bearer {server.admin_key}"}
        url = f"{server.url}/v2/models/{{}}/ready"
        tree = next(t for t in TREES if requests.get(url.format(t), headers=headers, timeout=30).ok)
        stop = threading.Event()
        clients = [Client(server, tree, f"kill-{i}", stop) for i in range(THREADS)]
        for client in clients:
            client.start()
        master = server.process.pid
        originals = workers(master)
        try:
            wait_for_answers(clients, ANSWERS_BETWEEN_KILLS)
            for pid in sorted(originals):
                os.kill(pid, signal.SIGKILL)
                wait_for_replacement(master, pid, len(originals))
                time.sleep(SECONDS_BETWEEN_KILLS)
                wait_for_answers(clients, ANSWERS_BETWEEN_KILLS)
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=120)
        assert not workers(master) & originals
    finally:
        stop_server(server)

    assert [c.unexpected for c in clients] == [[]] * THREADS
    counts = logged(database)
    cut_off = sum(c.cut_off for c in clients)
    total_logged = sum(c.total() for c in counts.values())
    print(f"answered {answered(clients)}, cut off by the kills {cut_off}, logged {total_logged}")
    for client in clients:
        mine = counts.get(client.username, Counter())
        missing = client.answered - mine
        assert not missing, f"{client.username}: answered but not logged {dict(missing)}"
        assert mine.total() <= client.answered.total() + client.cut_off, "a request was logged twice"
    assert not list((tmp_path / "live.sqlite3-querylog").glob("*.wal")), "every write-ahead file was moved in"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
