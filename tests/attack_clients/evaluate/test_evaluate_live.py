"""End to end against the live gunicorn: a small slice of the tiny profile through the CLI,
resumed without recomputation, and the same on a Dask LocalCluster (loopback only)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import requests

from attack_clients.attacks import ATTACKS
from attack_clients.cli import main
from attack_clients.evaluate.run import Options, evaluate
from attack_clients.evaluate.service import local_service
from attack_clients.evaluate.sweep import DEFENSES, FACE_MODELS, FALLBACK_TREE, PROFILES, TREE_MODELS

SLICE = (
    "tree-map.*.none",
    "tree-map.*.round-0.05",
    "tree-wbwc.*.none",
    "tree-wbwc.*.label-only",
    "mi-face-wb.*.none",
    "mi-face-wb.*.top-1",
    "mi-face-bb.*.round-0.01",
)


@pytest.fixture(scope="module")
def evaluated(live_server, tmp_path_factory) -> tuple[Path, list[str]]:
    out = tmp_path_factory.mktemp("evaluate")
    argv = ["evaluate", "--profile", "tiny", "--out", str(out), "--url", live_server.url, "--key",
            live_server.admin_key, "--quiet", *(f"--only={pattern}" for pattern in SLICE)]  # fmt: skip
    assert main(argv) == 0
    return out, argv


def test_every_output_is_written(evaluated) -> None:
    out, _ = evaluated
    summary = json.loads((out / "results.json").read_text())
    finished = summary["finished_cells"]
    assert len(summary["run"]["computed"]) == finished == len(summary["cells"]) >= len(SLICE)
    face_attacks = sum(PROFILES["tiny"].attacks(a, FACE_MODELS[0]) for a in ATTACKS.values() if a.family == "face")
    trees = len(summary["models"]["tree"])  # MAP, WBWC, ART's two under every defence; AttriGuard's β = 1 undefended
    assert summary["grid_cells"] == len(DEFENSES) * (face_attacks + 4 * trees) + trees > finished
    with open(out / "results.csv") as handle:
        assert len(list(csv.DictReader(handle))) == finished
    assert len(list((out / "cells").glob("*.json"))) == finished
    assert "partial sweep" in (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "Decision trees" in page
    assert "at which rounding level" in (out / "report.md").read_text()
    assert (out / "figures" / "frontier.png").is_file()


def test_each_cell_ran_under_its_own_user_with_its_defense(evaluated, live_server) -> None:
    out, _ = evaluated
    summary = json.loads((out / "results.json").read_text())
    users = set()
    for row in summary["cells"]:
        cell = json.loads((out / "cells" / f"{row['key']}.json").read_text())
        users.add(cell["username"])
        stored = live_server.admin("GET", f"/admin/users/{cell['username']}/defense").json()["spec"]
        assert stored == cell["spec"]
        assert cell["utility"]["defense"] == cell["spec"]
    assert len(users) == len(summary["cells"])


def test_white_box_cells_reuse_the_undefended_result_after_checking_the_download(evaluated) -> None:
    out, _ = evaluated
    cells = {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}
    reused = [c for c in cells.values() if c.get("reused_from")]
    assert {c["attack"] for c in reused} == {"mi-face-wb", "tree-wbwc"}
    for cell in reused:
        original = cells[cell["reused_from"]]
        assert cell["verification"]["download_sha256"] == original["download_sha256"] is not None
        assert cell["raw"]["metrics"] == original["raw"]["metrics"]
        assert cell["utility"]["defense"] == cell["spec"] != original["spec"]
    assert all(c["raw"]["rows"] == 0 for c in cells.values() if c["attack"] in ("mi-face-wb", "tree-wbwc"))


def test_a_second_run_computes_nothing(evaluated) -> None:
    out, argv = evaluated
    before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    assert main(argv) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["run"]["computed"] == [] and summary["run"]["already_done"] == summary["finished_cells"]
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == before


def test_dask_local_cluster_runs_the_cells(live_server, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as cluster:
        summary = evaluate(
            Options(
                PROFILES["tiny"],
                tmp_path,
                url=live_server.url,
                key=live_server.admin_key,
                scheduler=cluster.scheduler_address,
                only=("tree-map.*.none", "tree-wbwc.*.none", "tree-wbwc.*.top-1"),
                progress=False,
            )
        )
    assert summary["run"]["executor"].startswith("Dask scheduler tcp://127.0.0.1:")
    assert summary["failed"] == {}
    assert len(summary["run"]["computed"]) == summary["finished_cells"] >= 3


def test_a_started_service_is_fresh_serves_the_models_and_stops(tmp_path: Path) -> None:
    with local_service(tmp_path / "gunicorn.log", workers=1) as service:
        served = service.served([*FACE_MODELS, *TREE_MODELS, FALLBACK_TREE])
        assert "faces-softmax" in served and ("fair-tree" in served or set(TREE_MODELS) <= set(served))
        service.create_user("first-user")
        assert service.set_defense("first-user", [{"round": 0.01}]) == [{"round": 0.01}]
        assert service.utility("faces-softmax", [{"label_only": True}])["defense"] == [{"label_only": True}]
        url = service.url
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/v2/health/ready", timeout=5)
