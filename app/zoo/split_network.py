"""A split network's service stage: the dense layers that answer the features a device sends.

The device stage (the first ``split_at`` layers of an ``ImageModel``) ships in the app
and runs on the user's device; it sends its output, a short vector of ``features``, to
the service, which runs the rest. ``faces-split-device`` serves the whole network (so
every dialect can query it with pixels, and its download carries the device stage);
``faces-split`` is the service stage alone, taking ``features``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from app.zoo.base import Field, InputError, ServedModel
from app.zoo.images import ImageModel, Layer

FEATURES_KEY = "features"
DEVICE_SUFFIX = "-device"


def feature_fields(width: int) -> list[Field]:
    """One numeric field per feature, named ``feature_<i>`` (unbounded: what the device computed)."""
    return [Field(f"feature_{i}", "numeric") for i in range(width)]


@dataclass(kw_only=True)
class FeatureModel(ServedModel):
    """Dense layers over a feature vector, softmax output: a split network's service stage."""

    layers: list[Layer]
    heldout_X: np.ndarray
    heldout_y: np.ndarray

    platform: ClassVar[str] = "numpy_dense"

    def check_inputs(self, X: np.ndarray) -> str | None:
        return None if np.isfinite(X).all() else "feature values must be finite numbers (no NaN or infinity)"

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        out = np.asarray(X, dtype=np.float32)
        if out.ndim != 2 or out.shape[1] != self.n_features:
            raise InputError(f"expected a matrix of shape (n, {self.n_features}), got {out.shape}")
        if not np.isfinite(out).all():
            raise InputError("feature values must be finite numbers")
        for layer in self.layers:
            out = layer(out)
        return out

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Each record is ``{"features": [...]}`` or ``{"feature_<i>": v, ...}``."""
        out = np.empty((len(records), self.n_features), dtype=np.float32)
        names = {f.name: i for i, f in enumerate(self.fields)}
        for row, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise InputError(f"a record is a {type(record).__name__}, expected an object of field values")
            if FEATURES_KEY in record:
                extra = sorted(k for k in record if k != FEATURES_KEY)
                if extra:
                    raise InputError(f"unknown field {extra[0]!r} next to {FEATURES_KEY!r}", field=str(extra[0]),
                                     reason="unknown-field")
                out[row] = _numbers(record[FEATURES_KEY], self.n_features)
                continue
            values = np.full(self.n_features, np.nan, dtype=np.float32)
            for key, value in record.items():
                if key not in names:
                    raise InputError(f"unknown field {key!r}: expected {FEATURES_KEY!r} or feature_0..feature_"
                                     f"{self.n_features - 1}", field=str(key), reason="unknown-field")
                values[names[key]] = _numbers(value, 1)[0]
            missing = np.flatnonzero(np.isnan(values))
            if missing.size:
                first = self.fields[missing[0]].name
                raise InputError(f"{missing.size} features missing, first {first}", field=first, reason="missing")
            out[row] = values
        if not np.isfinite(out).all():
            raise InputError("feature values must be finite numbers")
        return out

    def heldout(self) -> tuple[np.ndarray, np.ndarray]:
        return self.heldout_X, self.heldout_y

    def export(self) -> dict[str, Any]:
        return {"layers": [layer.to_json() for layer in self.layers], "image_shape": [], "inputs": FEATURES_KEY}


def _numbers(value: Any, size: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"feature values must be numbers, got {type(value).__name__}") from None
    if array.size != size:
        raise InputError(f"expected {size} feature values, got {array.size}")
    return array


def service_name(device_name: str) -> str:
    """``faces-split-device`` -> ``faces-split``; a defended one keeps its suffix:
    ``faces-split-device-dp-nm1`` -> ``faces-split-dp-nm1``."""
    return device_name.replace(DEVICE_SUFFIX, "", 1)


def with_split(model: ServedModel) -> ServedModel:
    """A defended split network as loaded, with the device stage depth its training noted
    (``training_defense_params.split_at``: the defended models' trainer builds plain image models)."""
    split_at = model.metadata.get("training_defense_params", {}).get("split_at")
    if isinstance(model, ImageModel) and model.split_at is None and split_at is not None:
        model.split_at = int(split_at)
        model.metadata["split"] = {"service_model": service_name(model.name), "features": model.feature_width,
                                   "split_at": model.split_at}
    return model


def service_stage(device: ImageModel) -> FeatureModel:
    """The layers after the device stage, as a model of its own; held out: the device's held-out features."""
    if device.split_at is None or device.feature_width is None:
        raise TypeError(f"{device.name} is not a split network")
    service_layers = device.layers[device.split_at :]
    if not all(isinstance(layer, Layer) for layer in service_layers):
        raise TypeError(f"{device.name}: the service stage must be dense layers")
    heldout_X = device.device_features(device.heldout_X)
    model = FeatureModel(
        name=service_name(device.name),
        kind="features",
        classes=list(device.classes),
        fields=feature_fields(device.feature_width),
        objective=device.objective,
        description=f"service stage of the split network {device.name}: dense layers over its features",
        vector_input=FEATURES_KEY,
        layers=list(service_layers),  # type: ignore[arg-type]  # checked above
        heldout_X=heldout_X,
        heldout_y=device.heldout_y,
    )
    model.metadata = {
        **device.metadata,  # one training made both stages: same data, rows, parameters and timings
        "image_shape": list(device.image_shape),
        "heldout_accuracy": float(np.mean(model.predict_proba(heldout_X).argmax(axis=1) == device.heldout_y)),
        "split": {"device_model": device.name, "features": device.feature_width, "split_at": device.split_at},
    }
    return model


def service_stages(models: Mapping[str, ServedModel]) -> dict[str, ServedModel]:
    """The service stage of every split network among ``models``, by its served name."""
    return {
        service_name(model.name): service_stage(model)
        for model in models.values()
        if isinstance(model, ImageModel) and model.split_at is not None
    }
