"""The one gunicorn launcher: importable without ``app``, and a failed start is an error carrying the log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from attack_clients.launcher import ROOT, LaunchError, start_gunicorn
from tests.conftest import ADMIN_KEY, MODEL_CACHE


def test_the_launcher_does_not_import_the_service() -> None:
    code = "import sys, attack_clients.launcher; print(sorted(m for m in sys.modules if m.split('.')[0] == 'app'))"
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    assert output.stdout.strip() == "[]"


def test_a_server_that_cannot_start_is_an_error_with_its_log(tmp_path: Path) -> None:
    env = {
        "MLAAS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MLAAS_ADMIN_KEY": ADMIN_KEY,
        "MLAAS_CACHE_DIR": str(MODEL_CACHE),
        "MLAAS_WORKERS": "1",
    }
    with pytest.raises(LaunchError, match="no_such_module"):
        start_gunicorn(env, tmp_path / "gunicorn.log", app="no_such_module:app", timeout=300)
