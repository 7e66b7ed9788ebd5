"""The white-box model format as a torch network.

A downloaded image model is ``{"layers": [{"weights": (in, out), "bias": (out,),
"activation": "sigmoid" | "relu" | "softmax"}, ...], "image_shape": [h, w]}``; a stacked
denoising autoencoder adds ``"decoder"`` (code back to pixels) and
``"encoder_depth"`` (how many leading layers form its encoder). A split network's
layers begin with convolutions (``"type": "convolution"``, ``weights`` (filters,
channels, kh, kw), ``input_shape`` (channels, h, w), ``stride``; rows stay flat,
channel-major) and ``"split_at"`` says how many layers form the device stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "softmax": lambda: nn.Softmax(dim=1)}


def _convolution(layer: Mapping[str, Any]) -> list[nn.Module]:
    """A convolution over flat channel-major rows: unflatten, convolve, flatten."""
    weights = torch.tensor(np.asarray(layer["weights"], dtype=np.float32))
    filters, channels, kh, kw = weights.shape
    conv = nn.Conv2d(channels, filters, (kh, kw), stride=int(layer["stride"]))
    with torch.no_grad():
        conv.weight.copy_(weights)
        conv.bias.copy_(torch.tensor(np.asarray(layer["bias"], dtype=np.float32)))
    shape = tuple(int(v) for v in layer["input_shape"])
    return [nn.Unflatten(1, shape), conv, ACTIVATIONS[layer["activation"]](), nn.Flatten()]


def layer_stack(layers: Sequence[Mapping[str, Any]]) -> nn.Sequential:
    """Dense (and convolution) layers with their activations, frozen, in float32."""
    modules: list[nn.Module] = []
    for layer in layers:
        if layer.get("type") == "convolution":
            modules += _convolution(layer)
            continue
        weights = torch.tensor(np.asarray(layer["weights"], dtype=np.float32))
        bias = torch.tensor(np.asarray(layer["bias"], dtype=np.float32))
        linear = nn.Linear(weights.shape[0], weights.shape[1])
        with torch.no_grad():
            linear.weight.copy_(weights.T)
            linear.bias.copy_(bias)
        activation = layer.get("activation", "softmax")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}")
        modules += [linear, ACTIVATIONS[activation]()]
    stack = nn.Sequential(*modules)
    stack.requires_grad_(False)
    return stack


def device_stage(export: Mapping[str, Any]) -> nn.Sequential:
    """A split network's device stage (its first ``split_at`` layers): pixels to the features it sends."""
    if export.get("split_at") is None:
        raise ValueError("not a split network: the download has no split_at")
    return layer_stack(list(export["layers"])[: int(export["split_at"])])


def encoder_depth(export: Mapping[str, Any]) -> int:
    """``encoder_depth``, or where the decoder's input width matches a hidden layer's output."""
    if "encoder_depth" in export:
        return int(export["encoder_depth"])
    code = np.asarray(export["decoder"][0]["weights"]).shape[0]
    widths = [np.asarray(layer["weights"]).shape[1] for layer in export["layers"][:-1]]
    if code not in widths:
        raise ValueError("cannot tell which layers form the DAE encoder")
    return len(widths) - widths[::-1].index(code)


class WhiteBoxModel:
    """A downloaded model split the way MI-Face needs it.

    ``classifier`` maps the space the attack searches to probabilities: pixels,
    or for a DAE the top code, where PROCESS-DAE works (paper, Algorithm 2).
    """

    def __init__(self, export: Mapping[str, Any], attack_code_space: bool | None = None) -> None:
        layers = list(export["layers"])
        self.image_shape = tuple(int(v) for v in export["image_shape"])
        self.has_decoder = bool(export.get("decoder"))
        self.code_space = self.has_decoder if attack_code_space is None else attack_code_space
        if self.code_space and not self.has_decoder:
            raise ValueError("code-space inversion needs a DAE decoder")
        depth = encoder_depth(export) if self.code_space else 0
        self.full = layer_stack(layers)
        self.encoder = layer_stack(layers[:depth]) if depth else nn.Identity()
        self.classifier = layer_stack(layers[depth:])
        self.decoder = layer_stack(export["decoder"]) if self.code_space else nn.Identity()

    @classmethod
    def from_network(cls, network: nn.Sequential, image_shape: Sequence[int]) -> WhiteBoxModel:
        """A pixel-space model over a torch network that ends in its softmax.

        For a copy the attacker built itself (the extraction surrogate): its layers
        need not be dense, so MI-Face runs on them as they are.
        """
        model = cls({"layers": [], "image_shape": list(image_shape)})
        network.requires_grad_(False)
        model.full = model.classifier = network
        return model

    @property
    def n_pixels(self) -> int:
        return int(np.prod(self.image_shape))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities for pixel rows (what the API would return)."""
        with torch.no_grad():
            return self.full(torch.as_tensor(np.asarray(X, dtype=np.float32))).double().numpy()

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.encoder(images)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.decoder(codes)

    def start(self, n: int) -> torch.Tensor:
        """Algorithm 1's x0 = 0: the blank image, encoded when searching codes."""
        return self.encode(torch.zeros(n, self.n_pixels))


def softmax_export(weights: np.ndarray, bias: np.ndarray, image_shape: Sequence[int]) -> dict:
    """The white-box description of a softmax regression (one softmax layer)."""
    return {
        "layers": [{"weights": np.asarray(weights), "bias": np.asarray(bias), "activation": "softmax"}],
        "image_shape": list(image_shape),
    }
