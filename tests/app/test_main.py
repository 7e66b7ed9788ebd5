"""``python -m app accuracy``: the zoo's accuracy report, recomputed from the served models."""

from __future__ import annotations

import json

import pytest

from app.__main__ import main
from app.bootstrap import load_models
from app.config import INSTANCE_PATH, from_environment
from tests.conftest import MODEL_CACHE


@pytest.fixture()
def cached_zoo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLAAS_CACHE_DIR", str(MODEL_CACHE))


def test_accuracy_json_is_recomputed_and_agrees_with_training(cached_zoo, capsys: pytest.CaptureFixture) -> None:
    assert main(["accuracy", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["model"] for row in rows][:3] == ["faces-softmax", "faces-mlp", "faces-dae"]
    models = load_models(from_environment(INSTANCE_PATH))
    for row in rows:
        meta = models[row["model"]].metadata
        assert row["heldout_rows"] == len(meta["heldout_rows"]) > 0
        assert row["heldout_accuracy"] == pytest.approx(meta["heldout_accuracy"])
        assert row["training_seconds"] == meta["training_seconds"]


def test_accuracy_table_has_a_line_per_model(cached_zoo, capsys: pytest.CaptureFixture) -> None:
    assert main(["accuracy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "dataset", "classes", "training_rows", "heldout_rows", "heldout_accuracy",
                                "epsilon", "training_seconds"]
    assert [line.split()[0] for line in lines[1:4]] == ["faces-softmax", "faces-mlp", "faces-dae"]
