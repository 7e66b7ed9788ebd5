"""BigML ("andromeda") client: one prediction per request, white-box downloads.

BigML has no batch predictions here, so every row is one ``POST /prediction``;
what BigML offers instead is the model itself (tree JSON with training counts,
or a deepnet's layers), which the white-box attacks use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attack_clients.clients.base import ApiError, DownloadForbidden, HttpClient, class_indices, is_missing

RESOURCE_ID = re.compile(r"^(model|deepnet)/[0-9a-f]{24}$")
LIST_PAGE = 100


class BigMLClient(HttpClient):
    """A BigML model or deepnet, found by name or by resource id."""

    dialect = "bigml"

    def __init__(self, url: str, key: str, model: str, *, username: str | None = None, **options: Any) -> None:
        options["batch_size"] = 1
        super().__init__(url, key, model, **options)
        # The key alone identifies the user; a username, if sent, must be the key's owner's.
        self.auth = {"api_key": key} if username is None else {"username": username, "api_key": key}
        self._resource: dict[str, Any] | None = None

    # --- finding the resource -----------------------------------------------------

    def resource(self) -> dict[str, Any]:
        """The listing entry of the model: its ``resource`` id and ``name``."""
        if self._resource is None:
            self._resource = self._find()
        return self._resource

    @property
    def resource_id(self) -> str:
        return str(self.resource()["resource"])

    @property
    def kind(self) -> str:
        """``model`` (a tree) or ``deepnet`` (an image network)."""
        return self.resource_id.split("/", 1)[0]

    def metadata_name(self) -> str:
        return str(self.resource().get("name") or self.model)

    def _find(self) -> dict[str, Any]:
        for kind in ("model", "deepnet"):
            offset = 0
            while True:
                try:
                    params = {**self.auth, "limit": str(LIST_PAGE), "offset": str(offset)}
                    page = self._request("GET", f"/andromeda/{kind}", params=params).json()
                except ApiError as exc:
                    if exc.status == 404 and kind == "deepnet":
                        break
                    raise
                objects = page.get("objects") or []
                for entry in objects:
                    if self.model in (entry.get("name"), entry.get("resource")):
                        return entry
                offset += len(objects)
                total = (page.get("meta") or {}).get("total_count", 0)
                if not objects or offset >= total:
                    break
        if RESOURCE_ID.match(self.model):
            return {"resource": self.model, "name": self.model}
        raise ApiError(404, f"no BigML model or deepnet named {self.model!r} in the listing")

    # --- predictions --------------------------------------------------------------

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """One ``POST /prediction`` per record; missing values are left out."""

        def send(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            record = records[start]
            return self._predict({name: value for name, value in record.items() if not is_missing(value)})

        return self._batched(len(records), 1, send)

    def predict_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel rows, one request each, as ``input_data`` keyed by pixel field id."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        keys = [f"{i:06x}" for i in range(X.shape[1])]

        def send(start: int, _stop: int) -> tuple[np.ndarray, np.ndarray]:
            return self._predict(dict(zip(keys, X[start].tolist(), strict=True)))

        return self._batched(len(X), 1, send)

    def _predict(self, input_data: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        body = {self.kind: self.resource_id, "input_data": input_data}
        answer = self._request("POST", "/prediction", rows=1, json_body=body, params=self.auth).json()
        classes = self.classes
        probabilities = np.zeros((1, len(classes)))
        index = {c: i for i, c in enumerate(classes)}
        for name, p in answer.get("probabilities") or []:
            if str(name) not in index:
                raise ValueError(f"the prediction names class {name!r}, unknown to the model's metadata")
            probabilities[0, index[str(name)]] = float(p)
        label = answer.get("output")
        if label is None:
            label = next(iter((answer.get("prediction") or {}).values()), None)
        return class_indices([str(label)], classes, probabilities), probabilities

    # --- white box ----------------------------------------------------------------

    def download_model(self) -> dict[str, Any]:
        """The model description: raw tree JSON, or a deepnet parsed to layer arrays.

        Raises ``DownloadForbidden`` when the operator serves it black-box only.
        """
        try:
            resource = self._request("GET", f"/andromeda/{self.resource_id}", params=self.auth).json()
        except ApiError as exc:
            if exc.status == 403:
                raise DownloadForbidden(exc.status, exc.message) from exc
            raise
        if self.kind == "deepnet":
            return parse_deepnet(resource)
        return resource


def _first(mappings: Sequence[Mapping[str, Any]], key: str) -> Any:
    return next((m[key] for m in mappings if isinstance(m, Mapping) and m.get(key) is not None), None)


def _dense(layers: Sequence[Mapping[str, Any]], n_in: int | None) -> list[dict[str, Any]]:
    """Layers as ``weights (in, out)``, ``bias``, ``activation``.

    BigML stores each output node's weights as a row ``(out, in)`` under
    ``weights``/``offset``/``activation_function``; this project's export uses
    ``(in, out)`` with ``bias``/``activation``. The orientation follows the
    chain of widths from the input; the key names decide only when that is
    ambiguous (square matrices or an unknown input width).
    """
    parsed = []
    for layer in layers:
        if layer.get("type") == "convolution":
            parsed.append(_convolution(layer))
            n_in = _convolution_width(parsed[-1])
            continue
        weights = np.asarray(layer["weights"], dtype=np.float64)
        bias = np.asarray(layer["bias"] if layer.get("bias") is not None else layer["offset"], dtype=np.float64)
        bigml_layout = "bias" not in layer
        rows, cols = weights.shape
        if n_in is not None and rows != cols and n_in in (rows, cols):
            transpose = cols == n_in
        else:
            transpose = bigml_layout
        weights = weights.T if transpose else weights
        activation = str(layer.get("activation") or layer.get("activation_function") or "identity").lower()
        parsed.append({"weights": weights, "bias": bias, "activation": activation})
        n_in = weights.shape[1]
    return parsed


def _convolution(layer: Mapping[str, Any]) -> dict[str, Any]:
    """A convolution layer: ``weights`` (filters, channels, kh, kw) over flat channel-major rows."""
    bias = layer["bias"] if layer.get("bias") is not None else layer["offset"]
    return {
        "type": "convolution",
        "weights": np.asarray(layer["weights"], dtype=np.float64),
        "bias": np.asarray(bias, dtype=np.float64),
        "activation": str(layer.get("activation") or layer.get("activation_function")).lower(),
        "input_shape": [int(v) for v in layer["input_shape"]],
        "stride": int(layer["stride"]),
    }


def _convolution_width(layer: Mapping[str, Any]) -> int:
    """How many numbers a convolution layer outputs per row."""
    filters, _, kh, kw = layer["weights"].shape
    _, h, w = layer["input_shape"]
    return filters * ((h - kh) // layer["stride"] + 1) * ((w - kw) // layer["stride"] + 1)


def parse_deepnet(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A BigML deepnet resource to ``{"layers", "decoder", "image_shape", ...}``."""
    body = resource.get("deepnet") if isinstance(resource.get("deepnet"), Mapping) else resource
    network = body.get("network") if isinstance(body.get("network"), Mapping) else {}
    places = [network, body, resource]
    image_shape = [int(v) for v in _first(places, "image_shape")]
    layers = _dense(_first(places, "layers") or [], int(np.prod(image_shape)))
    depth = _first(places, "encoder_depth")
    code_width = layers[int(depth) - 1]["weights"].shape[1] if depth else None
    export: dict[str, Any] = {
        "layers": layers,
        "decoder": _dense(_first(places, "decoder") or [], code_width),
        "image_shape": image_shape,
    }
    if depth is not None:
        export["encoder_depth"] = int(depth)
    split_at = _first(places, "split_at")
    if split_at is not None:
        export["split_at"] = int(split_at)
    classes = _first(places, "classes")
    if classes is not None:
        export["classes"] = [str(c) for c in classes]
    return export
