"""The DP-SGD-trained split network: its accounting, its layers, and its service stage served
beside it once the registry picks the trained model up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine

from app.core import registry as registry_module
from app.core.registry import Registry
from app.zoo.base import Field
from app.zoo.cache import write_atomically
from app.zoo.defended import split_dp, store, variants
from app.zoo.images import Conv2d, ImageModel, pixel_fields
from app.zoo.split_network import FeatureModel, service_name
from attack_clients.evaluate.sweep import PROFILES, SPLIT_MODELS, grid
from tests.app.zoo.defended.test_dp_sgd import rdp_epsilon

NAME = "faces-split-device-dp-nm1"
SMALL = {**split_dp.PARAMS, "epochs": 1}


@pytest.fixture(scope="module")
def trained(small_digits) -> ImageModel:
    """300 digits, one epoch: enough to check the accounting and the layers, not to be good. Built
    as the defended models' trainer builds it (a plain image model, the defence's facts in metadata)."""
    X, y = small_digits
    outcome = variants()[NAME].train(X, y, 10, 0, SMALL)
    model = ImageModel(name=NAME, kind="image", classes=[str(d) for d in range(10)], fields=pixel_fields(64),
                       objective=Field("digit", "categorical", categories=tuple(str(d) for d in range(10))),
                       description="", layers=outcome.layers, image_shape=(8, 8), heldout_X=X, heldout_y=y)  # fmt: skip
    accuracy = float(np.mean(model.predict_proba(X).argmax(axis=1) == y))
    model.metadata = {"training_defense_params": outcome.facts, "iterations": outcome.iterations,
                      "epsilon": outcome.facts["epsilon"], "heldout_accuracy": accuracy}  # fmt: skip
    return model


def test_epsilon_is_the_accountants_for_the_steps_taken_and_the_layers_are_the_split_networks(trained) -> None:
    facts = trained.metadata["training_defense_params"]
    rows = len(trained.heldout_X)
    batches = -(-rows // facts["batch_size"])
    assert facts["batch_size"] == round(0.25 * rows) and facts["sample_rate"] == pytest.approx(1 / batches)
    assert facts["steps"] == trained.metadata["iterations"]["steps"] == batches
    expected = rdp_epsilon(1.0, facts["sample_rate"], facts["steps"], 1e-5)
    assert trained.metadata["epsilon"] == facts["epsilon"] == pytest.approx(expected, rel=1e-9)
    assert [type(layer).__name__ for layer in trained.layers] == ["Conv2d"] * 3 + ["Layer"] * 2
    assert isinstance(trained.layers[2], Conv2d) and trained.layers[2].out_shape == (32, 1, 1)
    assert facts["split_at"] == 3 and trained.split_at is None  # the trainer builds a plain image model


def test_the_registry_serves_the_device_model_and_its_service_stage_once_trained(
    trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "POLL_SECONDS", 0.0)
    (entry,) = store.entries(None, tmp_path, "att", NAME)
    registry = Registry(create_engine("sqlite://"), {"faces-split-device": _base_device(trained)}, [entry])
    assert service_name(NAME) not in registry.builtins  # queued: no service stage before the weights exist
    write_atomically(trained, entry.path)
    device, service = registry.builtins[NAME], registry.builtins["faces-split-dp-nm1"]
    assert isinstance(service, FeatureModel) and device.split_at == 3
    assert device.metadata["split"]["service_model"] == "faces-split-dp-nm1"
    assert service.metadata["split"]["device_model"] == NAME
    assert service.metadata["epsilon"] == device.metadata["epsilon"]
    X = device.heldout_X[:5]
    np.testing.assert_allclose(service.predict_proba(device.device_features(X)), device.predict_proba(X), rtol=1e-5)
    assert service.metadata["heldout_accuracy"] == pytest.approx(device.metadata["heldout_accuracy"])


def test_the_full_profile_decodes_the_dp_split_network_without_noise_only() -> None:
    assert service_name(NAME) in SPLIT_MODELS
    cells = grid(PROFILES["full"], ["faces-split", service_name(NAME)])
    assert {c.attack.name for c in cells if c.model == service_name(NAME)} == {"split-decoder"}
    assert len([c for c in cells if c.model == "faces-split"]) == 6
    assert {c.model for c in grid(PROFILES["quick"], ["faces-split", service_name(NAME)])} == {"faces-split"}


def _base_device(trained: ImageModel) -> ImageModel:
    """A stand-in for the zoo's faces-split-device: the defended model's schema is all the placeholder needs."""
    return ImageModel(name="faces-split-device", kind="image", classes=list(trained.classes), fields=trained.fields,
                      objective=trained.objective, description="", layers=trained.layers,
                      image_shape=trained.image_shape, heldout_X=trained.heldout_X, heldout_y=trained.heldout_y,
                      split_at=3)  # fmt: skip
