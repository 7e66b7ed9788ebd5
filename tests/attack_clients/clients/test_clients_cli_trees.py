"""``tree-map`` and ``tree-wbwc`` end to end against a loopback stand-in of the service."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attack_clients.cli import main
from attack_clients.trees.model import BigMLTree, LocalTreeOracle

from .http_fake import FakeService, Reply, Seen

TREE_ID = "model/5af06df94e17277501000010"
FIELDS = [{"name": "x1", "optype": "categorical", "categories": ["No", "Yes"]}, {"name": "z", "optype": "numeric"}]


def leaf(predicate: dict, a: int, b: int, children: list | None = None) -> dict:
    return {
        "predicate": predicate,
        "count": a + b,
        "output": "a" if a >= b else "b",
        "objective_summary": {"categories": [["a", a], ["b", b]]},
        "children": children or [],
    }


MODEL = {
    "resource": TREE_ID,
    "objective_field": "000002",
    "model": {
        "fields": {
            "000000": {"name": "x1", "optype": "categorical", "summary": {"categories": [["No", 90], ["Yes", 10]]}},
            "000001": {"name": "z", "optype": "numeric"},
            "000002": {"name": "y", "optype": "categorical", "summary": {"categories": [["a", 39], ["b", 61]]}},
        },
        "root": leaf(
            True,
            39,
            61,
            [
                leaf({"field": "000000", "operator": "=", "value": "Yes"}, 9, 1),
                leaf(
                    {"field": "000000", "operator": "!=", "value": "Yes"},
                    30,
                    60,
                    [
                        leaf({"field": "000001", "operator": "<=", "value": 5}, 1, 29),
                        leaf({"field": "000001", "operator": ">", "value": 5}, 29, 31),
                    ],
                ),
            ],
        ),
    },
}


def infer(seen: Seen) -> Reply:
    """The stand-in's v2 inference: binary FP32 and JSON BYTES inputs, answers from the tree."""
    length = int(seen.headers["Inference-Header-Content-Length"])
    header, blob = json.loads(seen.body[:length]), seen.body[length:]
    columns, offset = {}, 0
    for tensor in header["inputs"]:
        if "data" in tensor:
            columns[tensor["name"]] = [v or None for v in tensor["data"]]
        else:
            size = tensor["parameters"]["binary_data_size"]
            values = np.frombuffer(blob[offset : offset + size], "<f4")
            columns[tensor["name"]] = [None if np.isnan(v) else float(v) for v in values]
            offset += size
    n = len(next(iter(columns.values())))
    records = [{k: v[i] for k, v in columns.items() if v[i] is not None} for i in range(n)]
    labels, probabilities = LocalTreeOracle(BigMLTree(MODEL)).predict_records(records)
    return Reply(
        200,
        {
            "outputs": [
                {"name": "probabilities", "datatype": "FP32", "shape": [n, 2], "data": probabilities.ravel().tolist()},
                {"name": "label", "datatype": "BYTES", "shape": [n], "data": [["a", "b"][i] for i in labels]},
            ]
        },
    )


@pytest.fixture()
def service(fake: FakeService, tmp_path: Path) -> FakeService:
    params = {"kind": "tree", "classes": ["a", "b"], "fields": FIELDS, "sensitive": "x1"}
    fake.route("GET", "/v2/models/tiny", lambda _: Reply(200, {"name": "tiny", "parameters": params}))
    fake.route("POST", "/v2/models/tiny/infer", infer)
    entry = {"resource": TREE_ID, "name": "tiny", "objective_field_name": "y"}
    listing = {"meta": {"total_count": 1}, "objects": [entry]}
    fake.route("GET", "/andromeda/model", lambda _: Reply(200, listing))
    fake.route("GET", f"/andromeda/{TREE_ID}", lambda _: Reply(200, MODEL))
    rng = np.random.default_rng(0)
    lines = ["x1,z,y,split"]
    for i in range(120):
        x1 = "Yes" if rng.random() < 0.1 else "No"
        z = float(rng.integers(0, 11))
        node = BigMLTree(MODEL).predict({"x1": x1, "z": z})
        p_a = node.distribution["a"] / node.count
        lines.append(f"{x1},{z},{'a' if rng.random() < p_a else 'b'},{'train' if i % 2 else 'heldout'}")
    (tmp_path / "targets.csv").write_text("\n".join(lines) + "\n")
    return fake


@pytest.mark.parametrize("attack", ["tree-map", "tree-wbwc"])
def test_tree_attacks_write_results(service: FakeService, tmp_path: Path, attack: str, capsys) -> None:
    out = tmp_path / attack
    argv = [attack, "--url", service.url, "--key", "k", "--model", "tiny", "--out", str(out)]
    label = ["--label-column", "y"] if attack == "tree-map" else []  # else the BigML listing names it
    assert main([*argv, "--records", str(tmp_path / "targets.csv"), *label]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["attack"] == attack and results["parameters"]["sensitive"] == "x1"
    assert results["parameters"]["positive"] == "Yes" and "prior" in results["parameters"]
    assert set(results["metrics"]) == {"training", "heldout"}
    for row in results["metrics"].values():
        assert set(row) == {"attack", "baseline", "random", "ideal"}
        assert row["attack"]["n"] == 60 and row["baseline"]["guess"] == "No"
    if attack == "tree-map":
        # the held-out confusion sample, then per set 2 questions per distinct z (0..10)
        assert results["queries"] == 3 and results["rows"] == 60 + 2 * (2 * 11)
        assert results["parameters"]["confusion_source"].startswith("API answers on the heldout")
    else:
        assert results["queries"] == 0 and results["bytes_received"] > 0
        assert results["parameters"]["prior"] == {"No": 0.9, "Yes": 0.1}
    assert (out / "guesses.csv").read_text().count("\n") == 121
    assert "results:" in capsys.readouterr().out
