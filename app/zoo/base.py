"""The contract between the model zoo and the rest of the service.

Every served model, built-in or uploaded, is a ``ServedModel``. The dialects and
the prediction core only ever talk to this interface, so a new architecture needs
no change outside the zoo.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

InputReason = Literal["unknown-field", "missing", "value"]


class InputError(ValueError):
    """A record or matrix that does not fit the model's schema (becomes a 400).

    ``field`` names the offending field (None: the input as a whole) and ``reason`` says
    which rule it broke, so each dialect can map it to its own error codes.
    """

    def __init__(self, message: str, *, field: str | None = None, reason: InputReason = "value") -> None:
        super().__init__(message)
        self.field = field
        self.reason: InputReason = reason


@dataclass(frozen=True)
class Field:
    """One input (or objective) column of a model's schema."""

    name: str
    optype: Literal["numeric", "categorical"]
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "optype": self.optype}
        if self.optype == "categorical":
            out["categories"] = list(self.categories)
        else:
            out["minimum"] = self.minimum
            out["maximum"] = self.maximum
        return out


@dataclass
class ServedModel(ABC):
    """A trained model as the service sees it.

    ``predict_proba`` takes the *encoded* matrix: pixels in [0, 1] for image
    models; for tree models one column per field, numeric values as they are,
    categorical values as the index into ``Field.categories``, NaN for missing
    (a missing value stops the descent at that node, as BigML's trees do).
    """

    name: str
    kind: Literal["image", "tree", "features"]
    classes: list[str]
    fields: list[Field]
    objective: Field
    sensitive: str | None = None
    owner: str | None = None
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Facts about training (data set, rows, accuracy, timings) shown to operators and evaluators."""
    upload_id: str | None = None
    """The id of an uploaded model (None for a built-in)."""
    columns: list[str] | None = None
    """An uploaded model's CSV columns in file order (objective included): its fields' ids follow them."""
    image_shape: tuple[int, int] | None = None
    """(height, width) when the inputs are the pixels of one image, row-major; None for named fields."""
    vector_input: str | None = None
    """The name of the one input of a model that takes a plain vector of ``n_features`` numbers (the
    ``features`` a split network's device stage sends to its service stage); None otherwise."""

    platform: ClassVar[str]
    """What kind of computation serves it, as model metadata names it (v2 ``platform``)."""

    @property
    def n_features(self) -> int:
        return len(self.fields)

    @property
    def feature_width(self) -> int | None:
        """How many features the device stage of a split network outputs; None for any other model."""
        return None

    def device_features(self, X: np.ndarray) -> np.ndarray:
        """The features a split network's device stage computes from the encoded rows ``X``."""
        raise TypeError(f"{self.name} is not the device stage of a split network")

    @abstractmethod
    def check_inputs(self, X: np.ndarray) -> str | None:
        """Why the encoded matrix ``X`` (of the right shape) cannot be predicted, or None if it can.

        Runs on every prediction before the budget is charged, so it is written for speed.
        """

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, len(classes)), rows summing to 1."""

    @abstractmethod
    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Records keyed by field name to the encoded matrix; raises InputError."""

    @abstractmethod
    def heldout(self) -> tuple[np.ndarray, np.ndarray]:
        """Encoded held-out rows and their true class indices (utility reports)."""

    @abstractmethod
    def export(self) -> dict[str, Any]:
        """The white-box description (tree nodes with counts, or layer weights)."""
