"""The prediction core: authenticate, admit, predict, defend, log.

A dialect parses its JSON into a matrix or records, calls ``predict`` or
``predict_records``, and renders the ``Prediction`` it gets back. Every query is
logged by an ``after_request`` hook from what the request left in ``g.query``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import numpy as np
from flask import Flask, Response, current_app, g, request

from app.core.accounts import Accounts, Principal
from app.core.defense_config import DefenseConfig
from app.core.errors import BadRequest, InvalidInput
from app.core.limits import Limits
from app.core.querylog import QueryLog, QueryRecord
from app.core.registry import Registry
from app.zoo.base import InputError, ServedModel
from app.zoo.trees import TreeModel


@dataclass
class Prediction:
    """What a dialect renders: defended probabilities and the labels they imply."""

    model: ServedModel
    labels: np.ndarray
    probabilities: np.ndarray
    defense: list[Any] | None = None
    inputs: np.ndarray | None = None
    """The validated model inputs the prediction was made from."""

    @property
    def label_names(self) -> list[str]:
        return [self.model.classes[i] for i in self.labels]

    def features(self) -> np.ndarray:
        """What a split network's device stage sends its service stage for these inputs."""
        return self.model.device_features(self.inputs)


@dataclass
class QueryContext:
    """Filled in as a prediction request is understood; logged when it ends."""

    endpoint: str
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    model: str | None = None
    rows: int = 0


@dataclass
class Services:
    accounts: Accounts
    limits: Limits
    query_log: QueryLog
    defenses: DefenseConfig
    registry: Registry
    max_rows: int
    disclose_defense: bool
    noise_secret: int

    def authenticate(self, key: str | None) -> Principal:
        principal = self.accounts.authenticate(key)
        query = g.get("query")
        if query is not None:
            query.principal = principal
        return principal

    def model(self, principal: Principal, name: str) -> ServedModel:
        query = g.get("query")
        if query is not None:
            query.model = name
        return self.registry.get(principal, name)

    def predict_records(
        self, principal: Principal, model: ServedModel, records: Sequence[Mapping[str, Any]]
    ) -> Prediction:
        try:
            X = model.encode_records(records)
        except InputError as exc:
            raise InvalidInput(str(exc), field=exc.field, reason=exc.reason) from exc
        return self.predict(principal, model, X)

    def predict(self, principal: Principal, model: ServedModel, X: np.ndarray) -> Prediction:
        """Validate ``X``, charge the budget, predict and apply the effective defence."""
        X = self._checked(model, X)
        query = g.get("query")
        if query is not None:
            query.rows = len(X)
        self.limits.admit(principal, len(X))
        clean = model.predict_proba(X)
        if model.vector_input is not None:  # a curious service keeps what devices send it
            self.query_log.features.record(model.name, principal.user_id, X)
        pipeline = self.defenses.effective(principal.username, model.name)
        defended = pipeline.apply(clean, inputs=X, secret=self.noise_secret)
        disclosed = pipeline.to_spec() if self.disclose_defense else None
        return Prediction(model, defended.labels, defended.probabilities, disclosed, inputs=X)

    def disclosed_node(self, model: TreeModel, prediction: Prediction) -> int | None:
        """The node where a tree's one-row prediction ended, or None for a black-box model.

        The path through a tree is the tree, read one query at a time, so it is disclosed
        only when the operator lets the model be downloaded.
        """
        if prediction.inputs is None or not self.registry.downloadable_cached(model):
            return None
        return int(model.final_nodes(prediction.inputs)[0])

    def _checked(self, model: ServedModel, X: np.ndarray) -> np.ndarray:
        if X.ndim != 2:
            raise BadRequest(f"expected a 2-D batch of rows, got {X.ndim} dimension(s)")
        rows, cols = X.shape
        if rows == 0:
            raise BadRequest("the request has no rows")
        if rows > self.max_rows:
            raise BadRequest(f"at most {self.max_rows} rows per request, got {rows}")
        if cols != model.n_features:
            raise BadRequest(f"model {model.name!r} takes {model.n_features} features per row, got {cols}")
        problem = model.check_inputs(X)
        if problem is not None:
            raise InvalidInput(problem)
        return X


def services() -> Services:
    return current_app.extensions["mlaas"]


def prediction_endpoint(name: str) -> Callable:
    """Mark a view as a prediction query so that it is logged, whatever its outcome."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.query = QueryContext(endpoint=name)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def bearer_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    return key.strip() or None if scheme.lower() == "bearer" else None


def install_query_logging(app: Flask) -> None:
    query_log = app.extensions["mlaas"].query_log

    @app.after_request
    def log_query(response: Response) -> Response:
        query: QueryContext | None = g.get("query")
        if query is not None:
            query_log.record(
                QueryRecord(
                    user_id=query.principal.user_id if query.principal else None,
                    model=query.model,
                    endpoint=query.endpoint,
                    rows=query.rows,
                    status=response.status_code,
                    seconds=time.perf_counter() - query.started,
                    at=time.time(),
                )
            )
        return response
