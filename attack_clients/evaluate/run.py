"""One evaluation from start to report: service, users, parallel cells, results, figures, report."""

from __future__ import annotations

import fnmatch
import json
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from attack_clients.attacks import ATTACKS
from attack_clients.evaluate.answers import rounding_answers
from attack_clients.evaluate.cells import CellTask, run_cell
from attack_clients.evaluate.figures import draw_all
from attack_clients.evaluate.report import write_reports
from attack_clients.evaluate.results import ALPHA, index, row, write_csv
from attack_clients.evaluate.runner import DaskPool, LocalPool, Pool, RunReport, Work, run_cells
from attack_clients.evaluate.service import Service, ServiceError, local_service
from attack_clients.evaluate.store import ResultStore, write_json
from attack_clients.evaluate.study import face_comparisons, tree_comparisons
from attack_clients.evaluate.sweep import (
    DEFENDED_FACES,
    DEFENDED_TREES,
    FACE_MODELS,
    FALLBACK_TREE,
    SPLIT_ATTACKS,
    SPLIT_MODELS,
    TREE_MODELS,
    UNDEFENDED_ONLY,
    Cell,
    Profile,
    grid,
    models_for,
)

SETTLE_SECONDS = 1.0
"""Each gunicorn worker re-reads defence settings within 0.25 s by default; wait that out, with margin."""


@dataclass(frozen=True)
class Options:
    """What ``python -m attack_clients evaluate`` was asked to do."""

    profile: Profile
    out: Path
    url: str | None = None
    key: str | None = None
    scheduler: str | None = None
    workers: int = 2
    only: tuple[str, ...] = ()
    progress: bool = True
    server_workers: int = 2


@contextmanager
def _service(options: Options) -> Iterator[tuple[Service, bool]]:
    if options.url:
        if not options.key:
            raise ServiceError("--url needs --key, the service's admin key")
        yield Service(options.url.rstrip("/"), options.key), False
        return
    with local_service(options.out / "service" / "gunicorn.log", options.server_workers) as service:
        yield service, True


def select(cells: Sequence[Cell], patterns: Sequence[str]) -> list[Cell]:
    """The cells whose key matches any of ``patterns`` (all cells without patterns).

    ``--only`` limits what is computed; the results and reports still cover every
    finished cell of the profile's grid (earlier runs' included)."""
    return [c for c in cells if not patterns or any(fnmatch.fnmatch(c.key, p) for p in patterns)]


def open_accounts(service: Service, cells: Sequence[Cell]) -> dict[str, tuple[str, str]]:
    """A fresh user per cell with the cell's defence as its own; (username, key) by cell key."""
    run_id = secrets.token_hex(3)
    accounts = {}
    for cell in cells:
        username = f"{cell.key}.{run_id}"
        key = service.create_user(username)
        stored = service.set_defense(username, cell.defense.spec)
        if json.dumps(stored, sort_keys=True) != cell.defense.spec_json:
            raise ServiceError(f"{username}: the service stored {stored}, not {cell.defense.spec}")
        accounts[cell.key] = (username, key)
    if cells:
        time.sleep(SETTLE_SECONDS)
    return accounts


@contextmanager
def _pool(options: Options) -> Iterator[Pool]:
    pool: Pool = DaskPool(options.scheduler) if options.scheduler else LocalPool(options.workers)
    try:
        yield pool
    finally:
        pool.close()


def _progress(enabled: bool, total: int) -> tuple[Any, Any]:
    if not enabled:
        return nullcontext(), None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=Console(stderr=True),
    )
    return progress, progress.add_task("cells", total=total, last="")


def _summary(
    options: Options,
    service: Service,
    started_here: bool,
    models: dict[str, list[str]],
    cells: Sequence[Cell],
    store: ResultStore,
    report: RunReport,
    seconds: float,
    started_at: str,
    data_dir: str | None,
) -> dict[str, Any]:
    rows = [row(store.load(c.key)) for c in cells if store.done(c.key)]
    pairs = [
        (a.name, m)
        for a in ATTACKS.values()
        for m in models[a.family]
        if a.name not in (*UNDEFENDED_ONLY, *SPLIT_ATTACKS)  # no output defence: rounding does not apply
        and any(r["attack"] == a.name and r["model"] == m for r in rows)
    ]
    answers = rounding_answers(rows, pairs)
    by_cell = index(rows)
    comparisons = tree_comparisons(by_cell, models["tree"]) + face_comparisons(by_cell, answers, models["face"])
    keys = {c.key for c in cells}
    profile = options.profile
    return {
        "profile": profile.name,
        "settings": {
            "face_models": list(profile.face_models),
            "attack_models": {k: list(v) for k, v in profile.attack_models.items()},
            "identities": profile.identities,
            "options": profile.options(),
            "tree_sample": profile.tree_sample,
        },
        "service": {"url": service.url, "started_here": started_here},
        "data_dir": data_dir,
        "models": models,
        "grid_cells": len(cells),
        "finished_cells": len(rows),
        "failed": {k: v.strip().splitlines()[-1] for k, v in store.failures().items() if k in keys},
        "run": {
            "started_at": started_at,
            "seconds": seconds,
            "computed": report.computed,
            "already_done": report.already_done,
            "executor": f"Dask scheduler {options.scheduler}"
            if options.scheduler
            else f"{options.workers} local processes",
        },
        "compute_seconds": sum(r.get("wall_seconds") or 0.0 for r in rows if not r.get("reused_from")),
        "alpha": ALPHA,
        "rounding_answers": [{**asdict(a), "sentence": a.sentence()} for a in answers],
        "comparisons": [asdict(c) for c in comparisons],
        "cells": rows,
    }


def evaluate(options: Options, work: Work = run_cell) -> dict[str, Any]:
    """Run every unfinished cell, then write results.json, results.csv, figures and both reports."""
    started, started_at = time.perf_counter(), datetime.now(UTC).isoformat(timespec="seconds")
    store = ResultStore(options.out)
    store.claim(options.profile.name)
    data_dir = os.environ.get("MLAAS_DATA_DIR")
    data_dir = str(Path(data_dir).resolve()) if data_dir else None
    with _service(options) as (service, started_here):
        available = service.served(
            [*FACE_MODELS, *TREE_MODELS, FALLBACK_TREE, *DEFENDED_TREES, *DEFENDED_FACES, *SPLIT_MODELS]
        )
        models = models_for(options.profile, available)
        model_info = {name: service.model_info(name) for name in [*models["face"], *models["tree"]]}
        cells = grid(options.profile, available)
        pending = [c for c in select(cells, options.only) if not store.done(c.key)]
        accounts = open_accounts(service, pending)

        def make_task(cell: Cell, reference: dict[str, Any] | None) -> CellTask:
            username, key = accounts[cell.key]
            return CellTask(cell, options.profile, service.url, service.admin_key, username, key, data_dir, reference)

        report = RunReport(already_done=len(select(cells, options.only)) - len(pending))
        if pending:
            progress, bar = _progress(options.progress, len(pending))

            def on_done(cell: Cell, ok: bool) -> None:
                if bar is not None:
                    progress.update(bar, advance=1, last=f"{cell.key}{'' if ok else ' FAILED'}")

            with progress, _pool(options) as pool:
                report = run_cells(select(cells, options.only), store, make_task, pool, work, on_done)
    summary = _summary(
        options,
        service,
        started_here,
        models,
        cells,
        store,
        report,
        time.perf_counter() - started,
        started_at,
        data_dir,
    )
    options.out.mkdir(parents=True, exist_ok=True)
    summary["model_info"] = model_info
    write_json(options.out / "results.json", summary)
    write_csv(options.out / "results.csv", summary["cells"])
    figures = draw_all(summary["cells"], store, options.out / "figures", model_info)
    write_reports(summary, figures, options.out)
    return summary
