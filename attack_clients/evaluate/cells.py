"""Running one cell: the registered attack under the cell's user, then the model's utility.

A cell runs the attack's ``run`` with the profile's parameters, as the command
line would (the equivalent ``python -m attack_clients ...`` arguments are
recorded), writes its files with the command's own writer in a scratch folder,
and keeps its ``results.json`` and reconstructions. An attack that does not
apply to the target (``AttackNotApplicable``) makes a "not-applicable" cell.
Everything a worker needs travels in the ``CellTask`` and everything it
produces comes back in the ``CellOutcome``, so a remote Dask worker needs no
shared disk.

White-box attacks make no prediction query: they download the model. Under a
defence, the cell downloads the model as its own user and compares its
fingerprint with the undefended cell's; when the service handed out the same
model, the attack (deterministic given the model and seed) would compute the
same thing, so the undefended result is reused and the check is recorded. When
the fingerprints differ, the attack is run.

Labels-only attacks read nothing of an answer but its label. Under a defence
none of whose steps moves a label (rounding, top-k, label-only answers: the
service reports the clean row's argmax), every query gets the undefended
answer, so the (seeded) attack would repeat the undefended cell: its result is
reused once the service's utility check confirms that no held-out row's label
moved, and the check is recorded. Under noise the attack is run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from attack_clients.attacks import AttackNotApplicable, Params, Target
from attack_clients.attacks.output import write_result
from attack_clients.clients import DownloadForbidden, connect
from attack_clients.evaluate.service import Service
from attack_clients.evaluate.sweep import Cell, Profile
from attack_clients.trees.records import load_table

SPLIT_COLUMN = "__evaluate_split__"


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


def _tree_records(task: CellTask, folder: Path) -> dict[str, Any]:
    """A sample of the tree's training and held-out targets as ``records`` (profile ``tree_sample``)."""
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
    return {"records": path, "label_column": objective, "split_column": SPLIT_COLUMN}


def cell_params(task: CellTask, folder: Path) -> Params:
    """The profile's parameters of the cell's attack, with the cell's labels, seed or targets."""
    cell = task.cell
    params = task.profile.params_for(cell.attack)
    if cell.attack.family == "face":
        labels = tuple(range(task.profile.identities)) if task.profile.identities else None
        return replace(params, labels=labels, seed=0, quiet=True)
    if task.profile.tree_sample:
        return replace(params, **_tree_records(task, folder))
    if task.data_dir:
        return replace(params, data_dir=Path(task.data_dir))
    return params


def cell_target(task: CellTask) -> Target:
    key = task.admin_key if task.cell.attack.operator else task.api_key
    return Target(task.url, key, task.cell.model, dialect=task.cell.attack.dialect)


def command_line(task: CellTask, params: Params) -> list[str]:
    """The ``python -m attack_clients`` arguments that run this cell (API key hidden)."""
    return [*task.cell.attack.arguments(params), f"--url={task.url}", "--key=***", f"--model={task.cell.model}"]


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


def _reuse(task: CellTask, utility: dict[str, Any], started: float, **verification: Any) -> CellOutcome:
    reference = dict(task.reference or {})
    result = {
        **reference,
        **_identity(task),
        "utility": utility,
        "reused_from": reference["key"],
        "verification": {**verification, "seconds": time.perf_counter() - started, "matches": True},
    }
    return CellOutcome(result)


def _labels_kept(task: CellTask, utility: Mapping[str, Any]) -> bool:
    """A labels-only cell may reuse its undefended cell: the defence keeps labels, and kept every held-out one."""
    return task.cell.answers_as_undefended and task.reference is not None and utility.get("label_change_rate") == 0.0


def _identity(task: CellTask) -> dict[str, Any]:
    cell = task.cell
    return {
        "key": cell.key,
        "attack": cell.attack.name,
        "family": cell.attack.family,
        "model": cell.model,
        "defence": cell.defense.name,
        "defence_kind": cell.defense.kind,
        "defence_level": cell.defense.level,
        "spec": cell.defense.spec,
        "profile": task.profile.name,
        "username": task.username,
    }


def run_cell(task: CellTask) -> CellOutcome:
    """Run one cell and return its result; raises on a failure (the cell is then retried later)."""
    started = time.perf_counter()
    _limit_threads(task.cell.attack.family)
    _set_data_dir(task.data_dir)
    utility = Service(task.url, task.admin_key).utility(task.cell.model, task.cell.defense.spec)
    fingerprint = None
    if task.cell.attack.white_box:
        fingerprint, traffic = download_fingerprint(task)
        reference = task.reference or {}
        if fingerprint is not None and fingerprint == reference.get("download_sha256"):
            return _reuse(
                task,
                utility,
                started,
                download_sha256=fingerprint,
                traffic=traffic,
                why="white-box: no prediction query; same model downloaded under this defence",
            )
    if _labels_kept(task, utility):
        return _reuse(
            task,
            utility,
            started,
            label_change_rate=utility["label_change_rate"],
            heldout_rows=utility.get("heldout_rows"),
            why="labels only: no step of this defence moves a label, and none of the held-out rows' moved, "
            "so every query gets the undefended answer",
        )
    with tempfile.TemporaryDirectory(prefix="cell-") as scratch:
        out = Path(scratch) / "out"
        params = cell_params(task, Path(scratch))
        try:
            attack_result = task.cell.attack.run(cell_target(task), params)
        except AttackNotApplicable as error:
            code, log, raw, files = 2, str(error), error.document or {}, {}
        else:
            write_result(attack_result, out)
            code, log = 0, ""
            raw = json.loads((out / "results.json").read_text())
            files = {path.name: path.read_bytes() for path in sorted(out.glob("recon-*.png"))}
    result = {
        **_identity(task),
        "status": "ok" if code == 0 else "not-applicable",
        "exit_code": code,
        "log": log,
        "arguments": command_line(task, params),
        "download_sha256": fingerprint,
        "reused_from": None,
        "wall_seconds": time.perf_counter() - started,
        "utility": utility,
        "raw": raw,
    }
    return CellOutcome(result, files)
