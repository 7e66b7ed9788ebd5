"""Running the unfinished cells in parallel, on local processes or on a Dask cluster.

Local default: ``concurrent.futures.ProcessPoolExecutor`` with N = 2 spawned
processes. Processes rather than threads because a cell is not only waiting on
HTTP: MI-Face, the decoder and the evaluator are torch, scikit-learn and numpy
work, the tree attacks and the metrics are plain Python loops (the GIL), and
the attack commands draw figures with pyplot, which is not thread-safe. Spawn
rather than fork: nothing of the parent's threads or torch state is inherited.

Dependencies: a defended white-box cell, and a labels-only attack's cell under a
defence that keeps labels, waits for its undefended cell (see ``cells``), and is
submitted as soon as that one is stored.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from attack_clients.evaluate.cells import CellOutcome, CellTask, run_cell
from attack_clients.evaluate.store import ResultStore
from attack_clients.evaluate.sweep import Cell

Work = Callable[[CellTask], CellOutcome]
TaskFactory = Callable[[Cell, dict[str, Any] | None], CellTask]


class Pool(Protocol):
    """What the runner needs of an executor."""

    def submit(self, work: Work, task: CellTask) -> Any: ...

    def wait_any(self, futures: Sequence[Any]) -> Iterable[Any]: ...

    def close(self) -> None: ...


class LocalPool:
    """N spawned worker processes on this machine."""

    def __init__(self, workers: int) -> None:
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, work: Work, task: CellTask) -> Future:
        return self.executor.submit(work, task)

    def wait_any(self, futures: Sequence[Future]) -> Iterable[Future]:
        return wait(futures, return_when=FIRST_COMPLETED).done

    def close(self) -> None:
        self.executor.shutdown(cancel_futures=True)


class DaskPool:
    """The workers of a Dask distributed scheduler (``--scheduler ADDRESS``)."""

    def __init__(self, address: str) -> None:
        from distributed import Client

        self.client = Client(address)

    def submit(self, work: Work, task: CellTask) -> Any:
        return self.client.submit(work, task, pure=False, key=f"cell-{task.username}")

    def wait_any(self, futures: Sequence[Any]) -> Iterable[Any]:
        from distributed import wait as dask_wait

        return dask_wait(list(futures), return_when="FIRST_COMPLETED").done

    def close(self) -> None:
        self.client.close()


@dataclass
class RunReport:
    """What one invocation did."""

    computed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    already_done: int = 0


def reference_key(cell: Cell) -> str | None:
    """The undefended cell a defended cell may reuse: white-box attacks under any defence, labels-only
    attacks under one that keeps labels (None for every other cell)."""
    if not (cell.attack.white_box or cell.answers_as_undefended) or cell.defense.name == "none":
        return None
    return f"{cell.attack.name}.{cell.model}.none"


def run_cells(
    cells: Sequence[Cell],
    store: ResultStore,
    make_task: TaskFactory,
    pool: Pool,
    work: Work = run_cell,
    on_done: Callable[[Cell, bool], None] | None = None,
) -> RunReport:
    """Compute every cell the store lacks; store each result as soon as it arrives."""
    report = RunReport(already_done=sum(store.done(c.key) for c in cells))
    pending = [c for c in cells if not store.done(c.key)]
    in_grid = {c.key for c in pending}
    waiting: dict[str, list[Cell]] = {}
    in_flight: dict[Any, Cell] = {}

    def submit(cell: Cell) -> None:
        reference = reference_key(cell)
        document = store.load(reference) if reference and store.done(reference) else None
        in_flight[pool.submit(work, make_task(cell, document))] = cell

    for cell in pending:
        reference = reference_key(cell)
        if reference in in_grid:
            waiting.setdefault(reference, []).append(cell)
        else:
            submit(cell)
    while in_flight:
        for future in pool.wait_any(list(in_flight)):
            cell = in_flight.pop(future)
            try:
                outcome = future.result()
            except Exception:  # a failed cell is recorded and retried next run, the sweep goes on
                report.failed[cell.key] = traceback.format_exc()
                store.fail(cell.key, report.failed[cell.key])
            else:
                store.save(cell.key, outcome.result, outcome.files or _reused_files(store, outcome))
                report.computed.append(cell.key)
            if on_done is not None:
                on_done(cell, cell.key not in report.failed)
            for dependent in waiting.pop(cell.key, []):
                submit(dependent)
    return report


def _reused_files(store: ResultStore, outcome: CellOutcome) -> dict[str, bytes]:
    """A reused white-box result carries the reference cell's reconstructions."""
    source = outcome.result.get("reused_from")
    folder = store.files(source) if source else None
    if folder is None or not folder.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.png"))}
