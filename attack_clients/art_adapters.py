"""The prediction API as IBM ART estimators, so that ART's own attacks run against it unmodified.

- :class:`ArtFaceClassifier`: a face model behind any oracle (the HTTP clients,
  or ``LocalOracle``). ``predict`` queries it (all rows in one batch, which the
  v2 client sends as one binary request), and ``class_gradient`` is the
  project's zeroth-order estimate (``faces.gradients.ZerothOrderGradient``):
  ART's ``MIFace`` needs class gradients, and this makes it a black-box attack
  over HTTP, every probe counted by the oracle.
- :class:`ArtTreeClassifier`: a tree model behind a record oracle, for ART's
  black-box attribute inference (``AttributeInferenceBlackBox``).
- :class:`ArtBigMLTree`: the downloaded BigML tree as the scikit-learn decision
  tree ART's white-box attack (``AttributeInferenceWhiteBoxDecisionTree``)
  requires: local predictions, decision paths and node counts, no query.

ART sees records as numeric rows (:class:`RecordCodec`): one column per field in
the model's field order, a categorical value as its category's index, a number
as itself, a missing value as NaN. ART is a test dependency, optional at run
time: importing this module without it raises an ``ImportError`` that says how
to install it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from attack_clients.clients.base import is_missing
from attack_clients.faces.gradients import DctBasis, ZerothOrderGradient
from attack_clients.oracle import MAX_BATCH_BYTES, Oracle, query_all
from attack_clients.trees.attacks import RecordOracle
from attack_clients.trees.model import BigMLTree, FieldInfo, Node

ART_MISSING = (
    "attack_clients.art_adapters needs IBM's Adversarial Robustness Toolbox: "
    "pip install adversarial-robustness-toolbox==1.20.1 (it is in requirements-dev.txt)"
)
try:
    from art.estimators.classification import BlackBoxClassifier
    from art.estimators.classification.classifier import ClassGradientsMixin
    from art.estimators.classification.scikitlearn import ScikitlearnDecisionTreeClassifier
except ImportError as error:
    raise ImportError(ART_MISSING) from error


class ArtFaceClassifier(ClassGradientsMixin, BlackBoxClassifier):
    """An image model behind ``oracle`` as an ART classifier with (estimated) class gradients.

    Inputs are flattened images ``(n, h*w)`` in [0, 1] (``clip_values``), as the
    API takes them. ``directions``, ``delta`` and ``basis`` are the zeroth-order
    estimator's (``mi-face`` black-box's defaults): each gradient costs
    ``1 + 2 * directions`` rows per image.
    """

    def __init__(
        self,
        oracle: Oracle,
        image_shape: Sequence[int],
        directions: int = 8,
        delta: float = 0.5,
        basis: int = 16,
        seed: int = 0,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        h, w = (int(v) for v in image_shape)
        super().__init__(
            predict_fn=self._query, input_shape=(h * w,), nb_classes=len(oracle.classes), clip_values=(0.0, 1.0)
        )
        self.oracle = oracle
        self.image_shape = (h, w)
        self.max_batch_bytes = max_batch_bytes
        self.gradient_estimate = ZerothOrderGradient(
            oracle, DctBasis((h, w), (basis, basis)), directions, delta, seed, max_batch_bytes=max_batch_bytes
        )

    def _query(self, x: np.ndarray) -> np.ndarray:
        rows = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        return query_all(self.oracle, rows, self.max_batch_bytes)

    def predict(self, x: np.ndarray, batch_size: int = 128, **kwargs: Any) -> np.ndarray:
        """Returned confidences ``(n, nb_classes)``; all rows in one query (``batch_size`` is ignored:
        the service answers one big batch faster than many small ones)."""
        x_preprocessed, _ = self._apply_preprocessing(x, y=None, fit=False)
        return self._apply_postprocessing(preds=self._query(x_preprocessed), fit=False)

    def class_gradient(
        self, x: np.ndarray, label: int | Sequence[int] | np.ndarray | None = None, **kwargs: Any
    ) -> np.ndarray:
        """Estimated gradients of the returned confidences: ``(n, 1, h*w)`` for one label (or one per row),
        ``(n, nb_classes, h*w)`` for ``label=None`` (every class: ``nb_classes`` times the queries)."""
        x_preprocessed, _ = self._apply_preprocessing(x, y=None, fit=False)
        rows = torch.as_tensor(np.asarray(x_preprocessed, dtype=np.float32).reshape(len(x), -1))
        if label is None:
            columns = [np.full(len(rows), k) for k in range(self.nb_classes)]
        elif np.ndim(label) == 0:
            columns = [np.full(len(rows), int(label))]
        else:
            columns = [np.asarray(label, dtype=int)]
        gradients = [-self.gradient_estimate(rows, torch.as_tensor(c, dtype=torch.long))[1].numpy() for c in columns]
        return np.stack(gradients, axis=1)


class RecordCodec:
    """Records keyed by field name <-> numeric rows, one column per field (categories by index, NaN missing)."""

    def __init__(self, fields: Sequence[Mapping[str, Any]]) -> None:
        self.fields = [dict(f) for f in fields]
        self.names = [f["name"] for f in self.fields]
        self._categories = [
            list(f.get("categories") or []) if f.get("optype") == "categorical" else None for f in fields
        ]

    def column(self, name: str) -> int:
        return self.names.index(name)

    def values(self, name: str) -> list[float]:
        """The numeric codes of a categorical field's categories (ART's ``values``)."""
        categories = self._categories[self.column(name)]
        if categories is None:
            raise ValueError(f"{name!r} is not categorical")
        return [float(i) for i in range(len(categories))]

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        X = np.full((len(records), len(self.names)), np.nan)
        for row, record in enumerate(records):
            for col, (name, categories) in enumerate(zip(self.names, self._categories, strict=True)):
                value = record.get(name)
                if is_missing(value):
                    continue
                X[row, col] = categories.index(str(value)) if categories is not None else float(value)
        return X

    def decode(self, X: np.ndarray) -> list[dict[str, Any]]:
        records = []
        for row in np.atleast_2d(np.asarray(X, dtype=np.float64)):
            record: dict[str, Any] = {}
            for name, categories, value in zip(self.names, self._categories, row, strict=True):
                if np.isnan(value):
                    record[name] = None
                elif categories is not None:
                    record[name] = categories[round(float(value))]
                else:
                    record[name] = float(value)
            records.append(record)
        return records


class ArtTreeClassifier(BlackBoxClassifier):
    """A tree model behind a record oracle (``V2Client``, ``BigMLClient``, ``LocalTreeOracle``) for ART.

    ``predict`` decodes ART's rows into records and sends them all as one query.
    """

    def __init__(self, oracle: RecordOracle, codec: RecordCodec) -> None:
        super().__init__(predict_fn=self._query, input_shape=(len(codec.names),), nb_classes=len(oracle.classes))
        self.oracle = oracle
        self.codec = codec

    def _query(self, x: np.ndarray) -> np.ndarray:
        return self.oracle.predict_records(self.codec.decode(x))[1]

    def predict(self, x: np.ndarray, batch_size: int = 128, **kwargs: Any) -> np.ndarray:
        """Returned class probabilities ``(n, nb_classes)``, all rows in one query."""
        return self._query(x)


class ArtBigMLTree(ScikitlearnDecisionTreeClassifier):
    """A downloaded BigML tree as the decision tree ART's white-box attribute inference reads.

    Nodes are numbered depth first from the root (0). ``predict`` is the tree's
    own class distribution at the node where a record stops (as the service
    answers), computed locally: a white-box attack makes no query.
    """

    def __init__(self, tree: BigMLTree, codec: RecordCodec) -> None:
        super().__init__(model=None)
        self.tree = tree
        self.codec = codec
        self._input_shape = (len(codec.names),)
        self.nb_classes = len(tree.classes)
        self.nodes: list[Node] = []
        stack = [tree.root]
        while stack:
            node = stack.pop()
            self.nodes.append(node)
            stack.extend(reversed(node.children))
        self._ids = {id(node): i for i, node in enumerate(self.nodes)}

    @classmethod
    def from_json(cls, model_json: Mapping[str, Any]) -> ArtBigMLTree:
        """From ``GET /andromeda/model/<id>``'s JSON, its fields in the JSON's field order (the objective left out)."""
        tree = BigMLTree(model_json)
        fields = [
            {"name": info.name, "optype": info.optype, "categories": list(info.categories)}
            for fid, info in tree.fields.items()
            if fid != tree.objective
        ]
        return cls(tree, RecordCodec(fields))

    def _path(self, record: Mapping[str, Any]) -> list[Node]:
        """The nodes from the root to where ``record`` stops (first child whose predicate holds, as BigML)."""
        values = {self.tree.field_id(k): v for k, v in record.items()}
        path = [self.tree.root]
        while path[-1].children:
            step = next(
                (
                    child
                    for child in path[-1].children
                    if child.predicate is None
                    or child.predicate.holds(values.get(child.predicate.field), self._field(child.predicate.field))
                ),
                None,
            )
            if step is None:
                break
            path.append(step)
        return path

    def _field(self, fid: str) -> FieldInfo:
        return self.tree.fields.get(fid) or FieldInfo(fid, fid, "numeric")

    def predict(self, x: np.ndarray, **kwargs: Any) -> np.ndarray:
        index = {c: k for k, c in enumerate(self.tree.classes)}
        out = np.zeros((len(x), self.nb_classes))
        for row, record in enumerate(self.codec.decode(x)):
            node = self._path(record)[-1]
            total = sum(node.distribution.values())
            for name, count in node.distribution.items():
                out[row, index[name]] = count / total if total > 0 else 0.0
        return out

    def get_decision_path(self, x: np.ndarray) -> np.ndarray:
        """Node ids from the root to the leaf where the (single) row ``x`` stops."""
        (record,) = self.codec.decode(np.asarray(x).reshape(1, -1))
        return np.array([self._ids[id(node)] for node in self._path(record)])

    def get_samples_at_node(self, node_id: int) -> int:
        return round(self.nodes[node_id].count)

    def get_classes_at_node(self, node_id: int) -> int:
        return self.tree.classes.index(self.nodes[node_id].output)
