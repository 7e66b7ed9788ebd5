"""Resumable results: a finished cell is never computed again; failures are retried;
defended white-box cells wait for (and receive) their undefended cell."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest

from attack_clients.evaluate.cells import CellOutcome, CellTask
from attack_clients.evaluate.runner import reference_key, run_cells
from attack_clients.evaluate.store import ResultStore
from attack_clients.evaluate.sweep import PROFILES, Cell, grid

SERVED = ["faces-softmax", "steak-tree", "gss-tree"]


class InlinePool:
    """Runs each task at submission; futures are already done."""

    def submit(self, work, task: CellTask) -> Future:
        future: Future = Future()
        try:
            future.set_result(work(task))
        except Exception as error:
            future.set_exception(error)
        return future

    def wait_any(self, futures):
        return [futures[0]]

    def close(self) -> None:
        pass


class CountingWork:
    """A stand-in for ``run_cell`` that records what it was asked to do."""

    def __init__(self, fail: set[str] = frozenset()) -> None:
        self.calls: list[str] = []
        self.references: dict[str, str | None] = {}
        self.fail = set(fail)

    def __call__(self, task: CellTask) -> CellOutcome:
        key = task.cell.key
        self.calls.append(key)
        self.references[key] = (task.reference or {}).get("key")
        if key in self.fail:
            raise RuntimeError(f"{key} broke")
        return CellOutcome({"key": key, "status": "ok"}, {"recon-0.png": b"png"})


def make_task(cell: Cell, reference: dict | None) -> CellTask:
    return CellTask(cell, PROFILES["tiny"], "http://x", "admin", f"{cell.key}.u", "k", None, reference)


def test_a_second_run_computes_nothing(tmp_path: Path) -> None:
    cells = grid(PROFILES["quick"], SERVED)
    store, work = ResultStore(tmp_path), CountingWork()
    first = run_cells(cells, store, make_task, InlinePool(), work)
    assert sorted(work.calls) == sorted(c.key for c in cells) and len(first.computed) == len(cells)
    again = CountingWork()
    second = run_cells(cells, ResultStore(tmp_path), make_task, InlinePool(), again)
    assert again.calls == [] and second.computed == [] and second.already_done == len(cells)


def test_a_failed_cell_is_recorded_and_retried_next_run(tmp_path: Path) -> None:
    cells = grid(PROFILES["quick"], SERVED)[:5]
    store = ResultStore(tmp_path)
    report = run_cells(cells, store, make_task, InlinePool(), CountingWork(fail={cells[2].key}))
    assert list(report.failed) == [cells[2].key] and "broke" in store.failures()[cells[2].key]
    assert not store.done(cells[2].key) and store.done(cells[3].key)
    retry = CountingWork()
    run_cells(cells, store, make_task, InlinePool(), retry)
    assert retry.calls == [cells[2].key] and store.failures() == {}


def test_defended_white_box_cells_follow_their_undefended_cell(tmp_path: Path) -> None:
    cells = [c for c in grid(PROFILES["quick"], SERVED) if c.attack.name in ("mi-face-wb", "tree-map")]
    work = CountingWork()
    run_cells(cells, ResultStore(tmp_path), make_task, InlinePool(), work)
    none = work.calls.index("mi-face-wb.faces-softmax.none")
    for cell in cells:
        expected = reference_key(cell)
        assert work.references[cell.key] == expected
        if expected == "mi-face-wb.faces-softmax.none":
            assert work.calls.index(cell.key) > none


def test_a_labels_only_attack_reuses_its_undefended_cell_under_defences_that_keep_labels() -> None:
    cells = {c.defense.name: c for c in grid(PROFILES["full"], SERVED) if c.attack.name == "gmi-label"}
    reusing = {name for name, cell in cells.items() if reference_key(cell) == "gmi-label.faces-softmax.none"}
    assert reusing == {"round-0.001", "round-0.005", "round-0.01", "round-0.05", "top-1", "label-only"}
    assert reference_key(cells["none"]) is None and reference_key(cells["gaussian-0.1"]) is None


def test_a_reused_result_gets_the_reference_cells_reconstructions(tmp_path: Path) -> None:
    cells = [c for c in grid(PROFILES["quick"], SERVED) if c.attack.name == "mi-face-wb"][:2]

    def reuse(task: CellTask) -> CellOutcome:
        if task.reference is None:
            return CellOutcome({"key": task.cell.key}, {"recon-3.png": b"face"})
        return CellOutcome({"key": task.cell.key, "reused_from": task.reference["key"]})

    store = ResultStore(tmp_path)
    run_cells(cells, store, make_task, InlinePool(), reuse)
    assert (store.files(cells[1].key) / "recon-3.png").read_bytes() == b"face"


def test_a_folder_holds_one_profile(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.claim("quick")
    store.claim("quick")
    with pytest.raises(ValueError, match="quick"):
        ResultStore(tmp_path).claim("full")
