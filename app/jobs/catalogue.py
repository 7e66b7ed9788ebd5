"""The attacks the page offers, made from the attack registry by the runner (the web workers never import torch)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.jobs.commands import ROOT

CATALOGUE = "attacks.json"
SOURCES = (ROOT / "attack_clients" / "attacks", ROOT / "attack_clients" / "evaluate" / "sweep.py")


def catalogue() -> dict[str, Any]:
    """Every registered attack and the evaluation profiles that size a run."""
    from attack_clients.attacks import ATTACKS
    from attack_clients.evaluate.sweep import PROFILES

    return {
        "attacks": [
            {
                "name": attack.name,
                "title": attack.title,
                "family": attack.family,
                "white_box": attack.white_box,
                "dialect": attack.dialect,
            }
            for attack in ATTACKS.values()
        ],
        "profiles": list(PROFILES),
    }


def _newest_source() -> float:
    files = [path for source in SOURCES for path in ([source] if source.is_file() else source.glob("*.py"))]
    return max(path.stat().st_mtime for path in files)


def write_catalogue(folder: Path) -> Path:
    """``folder/attacks.json``, rewritten only when the registry's source is newer (importing it takes seconds)."""
    path = folder / CATALOGUE
    if path.is_file() and path.stat().st_mtime >= _newest_source():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / f".{CATALOGUE}.{os.getpid()}"
    scratch.write_text(json.dumps(catalogue(), indent=2))
    scratch.replace(path)
    return path


def read_catalogue(folder: Path) -> dict[str, Any] | None:
    path = folder / CATALOGUE
    return json.loads(path.read_text()) if path.is_file() else None
