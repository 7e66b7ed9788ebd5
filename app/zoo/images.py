"""Serving of the image models: a stack of dense (and convolution) layers evaluated in numpy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from app.zoo.base import Field, InputError, ServedModel

PIXELS_KEY = "pixels"
ONE_FLOAT32_BITS = int(np.float32(1.0).view(np.uint32))


def in_unit_interval(X: np.ndarray) -> bool:
    """Is every value in [0, 1] (so finite)? float32 in one pass over the bits.

    As unsigned integers the float32 values 0.0 ... 1.0 are exactly 0 ... 0x3F800000,
    and everything else (negatives, above 1, infinities, NaN) is larger, so one max
    decides; -0.0 (0x80000000) alone is in range and larger, and takes the exact
    comparisons, as does every other dtype. A 21 MB batch of faces took four passes.
    """
    if X.dtype == np.float32 and X.size and int(X.view(np.uint32).max()) <= ONE_FLOAT32_BITS:
        return True
    return bool(np.isfinite(X).all() and (X.size == 0 or (X.min() >= 0.0 and X.max() <= 1.0)))


@dataclass(frozen=True)
class Layer:
    """``activation(x @ weights + bias)``, weights of shape (inputs, outputs), float32."""

    weights: np.ndarray
    bias: np.ndarray
    activation: str

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weights
        z += self.bias
        return activate(z, self.activation)

    def to_json(self) -> dict[str, Any]:
        return {"weights": self.weights, "bias": self.bias, "activation": self.activation}


def activate(z: np.ndarray, activation: str) -> np.ndarray:
    """``activation`` of the pre-activations ``z`` (rows), in place where it can."""
    if activation == "sigmoid":  # in place, via exp: twice as fast as tanh on float32
        np.negative(z, out=z)
        with np.errstate(over="ignore"):  # exp(88+) = inf gives sigmoid 0, as it should
            np.exp(z, out=z)
        z += 1.0
        return np.reciprocal(z, out=z)
    if activation == "relu":
        return np.maximum(z, 0.0, out=z)
    if activation == "softmax":
        z = z.astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(f"unknown activation {activation!r}")


@dataclass(frozen=True)
class Conv2d:
    """A valid (unpadded) strided 2-D convolution over flat rows, then ``activation``.

    Rows come and go flat, channel-major (``c, h, w`` as ``torch`` lays them out), so a
    convolution stacks with dense layers: its input is ``in_shape`` = (channels, height,
    width) and its output (filters, out_h, out_w) flattened. ``weights`` has torch's
    shape (filters, channels, kernel_h, kernel_w).
    """

    weights: np.ndarray
    bias: np.ndarray
    activation: str
    in_shape: tuple[int, int, int]
    stride: int

    @property
    def out_shape(self) -> tuple[int, int, int]:
        filters, _, kh, kw = self.weights.shape
        _, h, w = self.in_shape
        return filters, (h - kh) // self.stride + 1, (w - kw) // self.stride + 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        kh, kw = self.weights.shape[2:]
        images = x.reshape(len(x), *self.in_shape)
        windows = sliding_window_view(images, (kh, kw), axis=(2, 3))[:, :, :: self.stride, :: self.stride]
        z = np.einsum("nchwij,fcij->nfhw", windows, self.weights, optimize=True).astype(np.float32)
        z += self.bias[None, :, None, None]
        return activate(z.reshape(len(x), -1), self.activation)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "convolution",
            "weights": self.weights,
            "bias": self.bias,
            "activation": self.activation,
            "input_shape": list(self.in_shape),
            "stride": self.stride,
        }


def pixel_fields(n_pixels: int) -> list[Field]:
    """One numeric field per pixel, row-major, named ``pixel_<i>``."""
    return [Field(f"pixel_{i}", "numeric", minimum=0.0, maximum=1.0) for i in range(n_pixels)]


@dataclass(kw_only=True)
class ImageModel(ServedModel):
    """A dense network over row-major pixels in [0, 1] with a softmax output.

    ``decoder`` (stacked denoising autoencoder only) maps the top code back to
    an image, layer by layer, in the order they are applied.
    """

    layers: list[Layer | Conv2d]
    image_shape: tuple[int, int]  # type: ignore[assignment]  # never None for an image
    heldout_X: np.ndarray
    heldout_y: np.ndarray
    decoder: list[Layer] = field(default_factory=list)
    split_at: int | None = None
    """A split network: its first ``split_at`` layers are the device stage, whose output
    (the ``features``) the device sends to the service stage, the layers after it."""

    platform: ClassVar[str] = "numpy_dense"

    def check_inputs(self, X: np.ndarray) -> str | None:
        if in_unit_interval(X):
            return None
        if not np.isfinite(X).all():
            return "pixel values must be finite numbers (no NaN or infinity)"
        return "pixel values must lie in [0, 1]"

    @cached_property
    def _pixel_index(self) -> dict[str, int]:
        return {f.name: i for i, f in enumerate(self.fields)}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise InputError(f"expected a matrix of shape (n, {self.n_features}), got {X.shape}")
        out = X
        for layer in self.layers:
            out = layer(out)
        if not np.isfinite(out).all():  # n x classes, not another pass over the 10,304 pixels a row
            raise InputError("pixel values must be finite numbers")
        return out

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Each record is ``{"pixels": flat or (h, w) values}`` or ``{"pixel_<i>": v, ...}``."""
        out = np.empty((len(records), self.n_features), dtype=np.float32)
        for row, record in enumerate(records):
            out[row] = self._encode_one(record)
        if not np.isfinite(out).all():
            raise InputError("pixel values must be finite numbers")
        return out

    def _encode_one(self, record: Mapping[str, Any]) -> np.ndarray:
        if not isinstance(record, Mapping):
            raise InputError(f"a record is a {type(record).__name__}, expected an object of field values")
        if PIXELS_KEY in record:
            if len(record) > 1:
                extra = sorted(k for k in record if k != PIXELS_KEY)
                raise InputError(f"unknown field {extra[0]!r} next to {PIXELS_KEY!r}", field=str(extra[0]),
                                 reason="unknown-field")
            return _numbers(record[PIXELS_KEY], self.n_features)
        values = np.full(self.n_features, np.nan, dtype=np.float32)
        for key, value in record.items():
            index = self._pixel_index.get(key)
            if index is None:
                last = self.n_features - 1
                raise InputError(f"unknown field {key!r}: expected {PIXELS_KEY!r} or pixel_0..pixel_{last}",
                                 field=str(key), reason="unknown-field")
            values[index] = _numbers(value, 1)[0]
        missing = np.flatnonzero(np.isnan(values))
        if missing.size:
            first = self.fields[missing[0]].name
            raise InputError(f"{missing.size} pixels missing, first {first}", field=first, reason="missing")
        return values

    def heldout(self) -> tuple[np.ndarray, np.ndarray]:
        return self.heldout_X, self.heldout_y

    @property
    def feature_width(self) -> int | None:
        if self.split_at is None:
            return None
        last = self.layers[self.split_at - 1]
        return int(np.prod(last.out_shape)) if isinstance(last, Conv2d) else last.weights.shape[1]

    def device_features(self, X: np.ndarray) -> np.ndarray:
        if self.split_at is None:
            raise TypeError(f"{self.name} is not the device stage of a split network")
        out = np.asarray(X, dtype=np.float32)
        for layer in self.layers[: self.split_at]:
            out = layer(out)
        return out

    def export(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "layers": [layer.to_json() for layer in self.layers],
            "image_shape": list(self.image_shape),
        }
        if self.decoder:
            out["decoder"] = [layer.to_json() for layer in self.decoder]
        if self.split_at is not None:
            out["split_at"] = self.split_at
        return out


def _numbers(value: Any, size: int) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"pixel values must be numbers, got {type(value).__name__}") from None
    if array.size != size:
        raise InputError(f"expected {size} pixel values, got {array.size}")
    return array
