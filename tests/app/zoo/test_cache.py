"""The cache of built-ins: hits load without training, changes retrain, writes are atomic."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from app.zoo import cache, catalog, load_builtin_models
from app.zoo.catalog import BuiltinSpec
from tests.app.zoo.conftest import hand_image_model, hand_tree

SPECS = [BuiltinSpec("faces-softmax", "tiny", "softmax"), BuiltinSpec("steak-tree", "tiny", "tree")]


@pytest.fixture()
def tiny_zoo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Stand-in catalog: two hand-made models, one data file, training logged to a file."""
    data_file = tmp_path / "data.csv"
    data_file.write_text("a,b\n1,2\n")
    log = tmp_path / "trained.log"

    def train(spec: BuiltinSpec, data_dir: Path | None):
        time.sleep(0.3)  # widen the window in which a second process could start training too
        with open(log, "a") as handle:
            handle.write(spec.name + "\n")
        model = hand_image_model() if spec.architecture == "softmax" else hand_tree()
        model.name = spec.name
        return model

    monkeypatch.setattr(catalog, "builtin_specs", lambda data_dir, face_source="att": SPECS)
    monkeypatch.setattr(catalog, "data_files", lambda spec, data_dir: [data_file])
    monkeypatch.setattr(catalog, "training_params", lambda spec: {"epochs": 1})
    monkeypatch.setattr(catalog, "train_builtin", train)
    return tmp_path


def trained(tmp: Path) -> list[str]:
    log = tmp / "trained.log"
    return log.read_text().split() if log.exists() else []


def test_a_cache_hit_does_not_retrain(tiny_zoo: Path) -> None:
    cache_dir = tiny_zoo / "cache"
    first = load_builtin_models(tiny_zoo, cache_dir)
    entries = {p: p.stat().st_mtime_ns for p in cache_dir.glob("*.npz")}
    second = load_builtin_models(str(tiny_zoo), str(cache_dir))
    assert trained(tiny_zoo) == ["faces-softmax", "steak-tree"]
    assert {p: p.stat().st_mtime_ns for p in cache_dir.glob("*.npz")} == entries
    assert list(first) == list(second) == ["faces-softmax", "steak-tree"]
    assert second["steak-tree"].export() == first["steak-tree"].export()
    assert not [p for p in cache_dir.iterdir() if p.suffix == ".tmp"]


def test_data_params_or_code_changes_retrain(tiny_zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_dir = tiny_zoo / "cache"
    load_builtin_models(tiny_zoo, cache_dir)
    (tiny_zoo / "data.csv").write_text("a,b\n1,3\n")
    load_builtin_models(tiny_zoo, cache_dir)
    monkeypatch.setattr(catalog, "training_params", lambda spec: {"epochs": 2})
    load_builtin_models(tiny_zoo, cache_dir)
    monkeypatch.setattr(cache, "TRAINING_CODE", ("splits.py",))
    load_builtin_models(tiny_zoo, cache_dir)
    assert len(trained(tiny_zoo)) == 8
    assert sorted(p.name.rsplit(".", 2)[0] for p in cache_dir.glob("*.npz")) == [
        "faces-softmax.tiny",
        "steak-tree.tiny",
    ]


def test_entries_are_readable_by_other_users(tiny_zoo: Path) -> None:
    load_builtin_models(tiny_zoo, tiny_zoo / "cache")
    assert {p.stat().st_mode & 0o777 for p in (tiny_zoo / "cache").glob("*.npz")} == {0o644}


def test_a_failed_write_leaves_no_entry(tiny_zoo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(model, file):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(cache, "write_model", disk_full)
    with pytest.raises(OSError, match="disk full"):
        load_builtin_models(tiny_zoo, tiny_zoo / "cache")
    assert [p.name for p in (tiny_zoo / "cache").iterdir()] == [cache.LOCK_FILE]


def _start(tmp: Path) -> None:
    load_builtin_models(tmp, tmp / "cache")


def test_processes_starting_together_train_once(tiny_zoo: Path) -> None:
    """Forked children inherit the stand-in catalog; the file lock serialises them."""
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_start, args=(tiny_zoo,)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert sorted(trained(tiny_zoo)) == ["faces-softmax", "steak-tree"]


def test_unknown_face_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="face source 'lfw'"):
        catalog.builtin_specs(tmp_path, "lfw")
