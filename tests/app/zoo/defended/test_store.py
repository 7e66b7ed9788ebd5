"""Defended models' cache keys follow every zoo file their training runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.zoo.defended import store, variants
from app.zoo.defended.base import Variant


def _variant(name: str) -> Variant:
    return variants()[name]


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("faces-softmax-dp-nm0.5", "defended/dp_sgd.py"),
        ("faces-split-device-dp-nm1", "defended/dp_sgd.py"),
        ("faces-split-device-dp-nm1", "split_train.py"),
        ("faces-mlp-wd", "catalog.py"),
        ("faces-mlp-mid", "defended/fitting.py"),
    ],
)
def test_editing_a_module_the_training_imports_changes_the_key(
    name: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = _variant(name)
    before = store.cache_key(variant, "digits", None)
    edited = store.ZOO / module
    real = store.digest
    monkeypatch.setattr(store, "digest", lambda path: "edited" if Path(path) == edited else real(path))
    assert store.cache_key(variant, "digits", None) != before


def test_code_outside_the_training_does_not_key_it() -> None:
    code = store.training_code(_variant("faces-mlp-nls"))
    assert store.ZOO / "defended" / "label_smoothing.py" in code
    assert not {store.ZOO / "defended" / n for n in ("store.py", "dp_sgd.py", "mid.py", "split_dp.py")} & set(code)
