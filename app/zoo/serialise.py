"""Models to and from bytes: one ``.npz`` archive, arrays plus a JSON header.

The same format is the disk cache of the built-ins and the database blob of an
uploaded tree. It holds no pickles, so loading a blob runs no code.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO, Any

import numpy as np

from app.zoo.base import Field, ServedModel
from app.zoo.images import Conv2d, ImageModel, Layer, pixel_fields
from app.zoo.trees import TreeModel

FORMAT_VERSION = 1
HEADER = "header"
TREE_ARRAYS = ("node_field", "node_value", "node_left", "node_right", "node_counts")


def _field(data: dict[str, Any]) -> Field:
    return Field(
        data["name"], data["optype"], tuple(data.get("categories", ())), data.get("minimum"), data.get("maximum")
    )


def _layer_header(layer: Layer | Conv2d) -> str | dict[str, Any]:
    """A dense layer by its activation; a convolution by its activation, input shape and stride."""
    if isinstance(layer, Conv2d):
        return {"type": "convolution", "activation": layer.activation, "input_shape": list(layer.in_shape),
                "stride": layer.stride}
    return layer.activation


def _read_layer(entry: str | dict[str, Any], weights: np.ndarray, bias: np.ndarray) -> Layer | Conv2d:
    if isinstance(entry, str):
        return Layer(weights, bias, entry)
    if entry.get("type") != "convolution":
        raise ValueError(f"unknown layer type {entry.get('type')!r}")
    channels, height, width = (int(v) for v in entry["input_shape"])
    return Conv2d(weights, bias, entry["activation"], (channels, height, width), int(entry["stride"]))


def write_model(model: ServedModel, file: IO[bytes] | Path) -> None:
    """Write ``model`` as an uncompressed npz (fast to load, weights are float32)."""
    header: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "kind": model.kind,
        "name": model.name,
        "classes": model.classes,
        "objective": model.objective.to_json(),
        "sensitive": model.sensitive,
        "owner": model.owner,
        "description": model.description,
        "metadata": model.metadata,
        "upload_id": model.upload_id,
        "columns": model.columns,
    }
    arrays: dict[str, np.ndarray] = {"heldout_X": model.heldout()[0], "heldout_y": model.heldout()[1]}
    if isinstance(model, TreeModel):
        header["fields"] = [f.to_json() for f in model.fields]
        arrays.update({name: getattr(model, name) for name in TREE_ARRAYS})
    elif isinstance(model, ImageModel):
        header["image_shape"] = list(model.image_shape)
        header["split_at"] = model.split_at
        for group, layers in (("layers", model.layers), ("decoder", model.decoder)):
            header[group] = [_layer_header(layer) for layer in layers]
            for i, layer in enumerate(layers):
                arrays[f"{group}.{i}.weights"] = layer.weights
                arrays[f"{group}.{i}.bias"] = layer.bias
    else:
        raise TypeError(f"cannot serialise a {type(model).__name__}")
    encoded = json.dumps(header, allow_nan=False).encode()
    np.savez(file, **{HEADER: np.frombuffer(encoded, dtype=np.uint8)}, **arrays)


def read_model(file: IO[bytes] | Path) -> ServedModel:
    """The model written by ``write_model``; arrays come back read-only."""
    with np.load(file, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    for array in arrays.values():
        array.flags.writeable = False
    header = json.loads(arrays.pop(HEADER).tobytes())
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"model format {header.get('format')!r}, expected {FORMAT_VERSION}")
    metadata = header["metadata"]
    # Uploads stored before these were typed fields carry them in the metadata.
    legacy_id, legacy_columns = metadata.pop("upload_id", None), metadata.pop("columns", None)
    common = {
        "name": header["name"],
        "kind": header["kind"],
        "classes": header["classes"],
        "objective": _field(header["objective"]),
        "sensitive": header["sensitive"],
        "owner": header["owner"],
        "description": header["description"],
        "metadata": metadata,
        "upload_id": header.get("upload_id") or legacy_id,
        "columns": header.get("columns") or legacy_columns,
        "heldout_X": arrays["heldout_X"],
        "heldout_y": arrays["heldout_y"],
    }
    if header["kind"] == "tree":
        fields = [_field(f) for f in header["fields"]]
        return TreeModel(fields=fields, **common, **{name: arrays[name] for name in TREE_ARRAYS})
    shape = tuple(header["image_shape"])

    def layers(group: str) -> list[Layer | Conv2d]:
        return [
            _read_layer(entry, arrays[f"{group}.{i}.weights"], arrays[f"{group}.{i}.bias"])
            for i, entry in enumerate(header[group])
        ]

    return ImageModel(
        fields=pixel_fields(shape[0] * shape[1]),
        image_shape=shape,
        layers=layers("layers"),
        decoder=layers("decoder"),  # type: ignore[arg-type]  # a decoder is dense layers
        split_at=header.get("split_at"),
        **common,
    )


def model_to_bytes(model: ServedModel) -> bytes:
    """The model as bytes, e.g. to store an uploaded tree in the database."""
    buffer = io.BytesIO()
    write_model(model, buffer)
    return buffer.getvalue()


def model_from_bytes(data: bytes) -> ServedModel:
    """The model stored by ``model_to_bytes``."""
    return read_model(io.BytesIO(data))
