"""A throwaway PostgreSQL cluster for the storage tests: its own directory, port and socket.

The cluster is made with the server's own binaries (Debian's ``postgresql`` package,
which ``make postgres`` installs), so the tests run against the real engine, not a mock.
PostgreSQL refuses to run as root, so under root (CI) its commands run as the
``postgres`` account the package creates (or ``nobody``), in a directory handed to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from attack_clients.launcher import free_port

SUPERUSER = "mlaas"


def server_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's newest version, else the PATH."""
    def version(folder: str) -> int:
        name = Path(folder).parent.name
        return int(name) if name.isdigit() else -1

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if os.access(f"{folder}/initdb", os.X_OK) and os.access(f"{folder}/pg_ctl", os.X_OK):
            return Path(folder)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).resolve().parent == Path(pg_ctl).resolve().parent:
        return Path(initdb).resolve().parent
    return None


def _unprivileged_account() -> pwd.struct_passwd | None:
    """Whom to run the server as: nobody special unless we are root, which initdb refuses."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.fail("running as root, and there is neither a 'postgres' nor a 'nobody' account to run PostgreSQL as")


@dataclass
class PostgresCluster:
    """One running server; ``database(name)`` creates a database and gives its SQLAlchemy URL."""

    port: int
    base: Path
    bin: Path
    account: pwd.struct_passwd | None

    def run(self, *args: str) -> subprocess.CompletedProcess:
        kwargs: dict[str, Any] = {"cwd": self.base, "capture_output": True, "text": True, "timeout": 120}
        if self.account is not None:
            kwargs.update(user=self.account.pw_uid, group=self.account.pw_gid, extra_groups=[])
        return subprocess.run([str(self.bin / args[0]), *args[1:]], env={**os.environ, "LC_ALL": "C"}, **kwargs)

    def database(self, name: str) -> str:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A fresh cluster for the session (about 2 s), stopped and deleted at the end.

    Missing binaries fail the tests rather than skip them: CI installs PostgreSQL with
    ``make postgres``, and a silent skip would hide that the PostgreSQL path went untested.
    """
    binaries = server_binaries()
    if binaries is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin or on PATH; "
            "install them with `make postgres` (Debian's postgresql package)"
        )
    account = _unprivileged_account()
    # Under /tmp: a short path (a socket's must fit in 107 bytes) that the unprivileged account can traverse.
    base = Path(tempfile.mkdtemp(prefix="mlaas-postgres-", dir="/tmp"))
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
    cluster = PostgresCluster(free_port(), base, binaries, account)
    data, log = base / "data", base / "server.log"
    try:
        made = cluster.run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        if made.returncode != 0:
            pytest.fail(f"initdb failed:\n{made.stdout}\n{made.stderr}")
        options = f"-p {cluster.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        started = cluster.run("pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        if started.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(f"PostgreSQL did not start:\n{started.stdout}\n{started.stderr}\n{server_log}")
        yield cluster
    finally:
        if (data / "postmaster.pid").exists():
            cluster.run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresCluster) -> str:
    """The SQLAlchemy URL of an empty database on the session's cluster."""
    return postgres.database("mlaas_test")
