"""Running one cell: the attack's own command under the cell's user, then the model's utility.

A cell calls the same subcommand a person would (``python -m attack_clients
mi-face ...``), in-process, in a scratch folder, and keeps its ``results.json``
and reconstructions. Everything a worker needs travels in the ``CellTask`` and
everything it produces comes back in the ``CellOutcome``, so a remote Dask
worker needs no shared disk.

White-box attacks make no prediction query: they download the model. Under a
defence, the cell downloads the model as its own user and compares its
fingerprint with the undefended cell's; when the service handed out the same
model, the attack (deterministic given the model and seed) would compute the
same thing, so the undefended result is reused and the check is recorded. When
the fingerprints differ, the attack is run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from attack_clients.cli import build_parser
from attack_clients.clients import DownloadForbidden, connect
from attack_clients.evaluate.capture import captured
from attack_clients.evaluate.service import Service
from attack_clients.evaluate.sweep import Cell, Profile
from attack_clients.trees.records import load_table

SPLIT_COLUMN = "__evaluate_split__"
LOG_TAIL = 2000


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to run one cell."""

    cell: Cell
    profile: Profile
    url: str
    admin_key: str
    username: str
    api_key: str
    data_dir: str | None
    reference: Mapping[str, Any] | None = None


@dataclass
class CellOutcome:
    """The cell's result document and its files (reconstruction PNGs by name)."""

    result: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


class CellError(RuntimeError):
    """The attack command stopped with an error message instead of a result."""


def _feed(digest: Any, value: Any) -> None:
    """Hash a downloaded model canonically (dict order, array dtype and shape included)."""
    if isinstance(value, Mapping):
        for key in sorted(value, key=str):
            digest.update(f"<{key}>".encode())
            _feed(digest, value[key])
    elif isinstance(value, np.ndarray):
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, list | tuple):
        digest.update(f"[{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(repr(value).encode())


def download_fingerprint(task: CellTask) -> tuple[str | None, dict[str, Any]]:
    """SHA-256 of the model as the cell's user downloads it (None if refused), and the traffic."""
    with connect(task.url, task.api_key, task.cell.model, "bigml") as client:
        try:
            model = client.download_model()
        except DownloadForbidden:
            return None, client.stats.as_dict()
        digest = hashlib.sha256()
        _feed(digest, model)
        return digest.hexdigest(), client.stats.as_dict()


def _labels(profile: Profile) -> list[str]:
    return ["--labels", ",".join(str(i) for i in range(profile.identities))] if profile.identities else []


def _tree_records(task: CellTask, folder: Path) -> list[str]:
    """A sample of the tree's training and held-out targets as ``--records`` (profile ``tree_sample``)."""
    with connect(task.url, task.api_key, task.cell.model) as client:
        metadata = client.metadata()
    table, objective, _ = load_table(metadata["dataset"], Path(task.data_dir) if task.data_dir else None)
    rng = np.random.default_rng(0)
    parts = []
    for split, key in (("training", "training_rows"), ("heldout", "heldout_rows")):
        rows = np.asarray(metadata.get(key) or [], dtype=int)
        if len(rows) > task.profile.tree_sample:
            rows = np.sort(rng.choice(rows, size=task.profile.tree_sample, replace=False))
        parts.append(table.iloc[rows].assign(**{SPLIT_COLUMN: split}))
    path = folder / "targets.csv"
    pd.concat(parts).to_csv(path, index=False)
    return [f"--records={path}", f"--label-column={objective}", f"--split-column={SPLIT_COLUMN}"]


def command_line(task: CellTask, out: Path) -> list[str]:
    """The ``python -m attack_clients`` arguments of this cell."""
    cell = task.cell
    argv = [*cell.attack.command, f"--url={task.url}", f"--key={task.api_key}", f"--model={cell.model}", f"--out={out}"]
    if cell.attack.family == "face":
        argv += ["--quiet", "--seed", "0", *_labels(task.profile)]
    elif task.profile.tree_sample:
        argv += _tree_records(task, out.parent)
    elif task.data_dir:
        argv += [f"--data-dir={task.data_dir}"]
    return argv + list(task.profile.arguments(cell.attack))


def _run_command(argv: list[str]) -> tuple[int, str]:
    """Exit code and printed output of one ``attack_clients`` command, run in-process."""
    with captured() as log:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            raise CellError(f"bad arguments {argv[0]}: {log.getvalue()[-LOG_TAIL:]}") from None
        try:
            code = int(args.handler(args) or 0)
        except SystemExit as stop:
            if not isinstance(stop.code, int):
                raise CellError(f"{argv[0]}: {stop.code}\n{log.getvalue()[-LOG_TAIL:]}") from None
            code = stop.code
    return code, log.getvalue()


def _limit_threads(family: str) -> None:
    """One math thread per cell: cells already fill the cores, and two OpenBLAS threads on
    a busy two-core machine made the evaluator's QR decompositions 25 times slower."""
    threadpool_limits(1)
    if family == "face":
        import torch

        torch.set_num_threads(1)


def _set_data_dir(data_dir: str | None) -> None:
    """The evaluator and the tree targets read ``MLAAS_DATA_DIR``: the run's, in every worker."""
    if data_dir:
        os.environ["MLAAS_DATA_DIR"] = data_dir
    else:
        os.environ.pop("MLAAS_DATA_DIR", None)


def _reuse(
    task: CellTask, utility: dict[str, Any], fingerprint: str, traffic: dict[str, Any], seconds: float
) -> CellOutcome:
    reference = dict(task.reference or {})
    result = {
        **reference,
        **_identity(task),
        "utility": utility,
        "reused_from": reference["key"],
        "verification": {
            "download_sha256": fingerprint,
            "matches": True,
            "traffic": traffic,
            "seconds": seconds,
            "why": "white-box: no prediction query; same model downloaded under this defence",
        },
    }
    return CellOutcome(result)


def _identity(task: CellTask) -> dict[str, Any]:
    cell = task.cell
    return {
        "key": cell.key,
        "attack": cell.attack.name,
        "family": cell.attack.family,
        "model": cell.model,
        "defence": cell.defence.name,
        "defence_kind": cell.defence.kind,
        "defence_level": cell.defence.level,
        "spec": cell.defence.spec,
        "profile": task.profile.name,
        "username": task.username,
    }


def run_cell(task: CellTask) -> CellOutcome:
    """Run one cell and return its result; raises on a failure (the cell is then retried later)."""
    started = time.perf_counter()
    _limit_threads(task.cell.attack.family)
    _set_data_dir(task.data_dir)
    utility = Service(task.url, task.admin_key).utility(task.cell.model, task.cell.defence.spec)
    fingerprint = None
    if task.cell.attack.white_box:
        fingerprint, traffic = download_fingerprint(task)
        reference = task.reference or {}
        if fingerprint is not None and fingerprint == reference.get("download_sha256"):
            return _reuse(task, utility, fingerprint, traffic, time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="cell-") as scratch:
        out = Path(scratch) / "out"
        argv = command_line(task, out)
        code, log = _run_command(argv)
        raw_path = out / "results.json"
        raw = json.loads(raw_path.read_text()) if raw_path.is_file() else {}
        files = {path.name: path.read_bytes() for path in sorted(out.glob("recon-*.png"))}
    if code == 0 and not raw:
        raise CellError(f"{argv[0]} wrote no results.json\n{log[-LOG_TAIL:]}")
    result = {
        **_identity(task),
        "status": "ok" if code == 0 else "not-applicable",
        "exit_code": code,
        "log": log[-LOG_TAIL:],
        "arguments": [a.replace(task.api_key, "***") for a in argv],
        "download_sha256": fingerprint,
        "reused_from": None,
        "wall_seconds": time.perf_counter() - started,
        "utility": utility,
        "raw": raw,
    }
    return CellOutcome(result, files)
