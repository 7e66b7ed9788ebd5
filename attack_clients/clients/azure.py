"""Azure ML client: online endpoints (``/score``) or classic Studio services (``/execute``).

Both take a table (column names plus rows) and answer per row a scored label
and one ``Scored Probabilities for Class "X"`` column per class (a two-class model: one
``Scored Probabilities``, that of the second class). The parsing is
lenient about the answer's outer shape (a bare array of objects or of rows, or a
wrapped one), since scoring scripts differ, but strict about the class names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from attack_clients.clients.base import HttpClient, class_indices, is_missing

SCORED_LABEL = "Scored Labels"
SCORED_CLASS = re.compile(r'^Scored Probabilities for Class "(.*)"$')
SCORED_BINARY = "Scored Probabilities"  # a two-class model's only column: p(classes[1])


def _binary(probabilities: np.ndarray, row: int, value: Any, classes: Sequence[str]) -> None:
    if len(classes) != 2:
        raise ValueError(f"a single {SCORED_BINARY!r} column needs a two-class model, not {len(classes)} classes")
    probabilities[row, 1] = float(value)
    probabilities[row, 0] = 1.0 - float(value)


def parse_score_answer(body: Any, classes: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Label names and probabilities ``(n, k)`` from a ``/score`` answer.

    Accepts a bare array (the contract) of objects (``Scored Labels`` and
    per-class probability keys, or ``{class: p}``; a two-class model's single
    ``Scored Probabilities`` is p(classes[1])) or of probability rows, and the
    same array wrapped in an object under a usual key.
    """
    if isinstance(body, Mapping):
        wrapped = next((body[k] for k in ("predictions", "result", "results", "output", "data") if k in body), None)
        if wrapped is None:
            raise ValueError(f"unrecognised /score answer with keys {sorted(body)}")
        body = wrapped
    index = {c: i for i, c in enumerate(classes)}
    labels: list[str] = []
    probabilities = np.zeros((len(body), len(classes)))
    for row, entry in enumerate(body):
        if isinstance(entry, Mapping):
            for key, value in entry.items():
                if key == SCORED_BINARY:
                    _binary(probabilities, row, value, classes)
                    continue
                match = SCORED_CLASS.match(key)
                name = match.group(1) if match else key
                if name in index:
                    probabilities[row, index[name]] = float(value)
                elif match:
                    raise ValueError(f"answer scores class {name!r}, unknown to the model's metadata")
            labels.append(str(entry.get(SCORED_LABEL, "")))
        else:
            values = np.asarray(entry, dtype=np.float64).ravel()
            if len(values) != len(classes):
                raise ValueError(f"answer row has {len(values)} values for {len(classes)} classes")
            probabilities[row] = values
            labels.append("")
    return labels, probabilities


def parse_execute_answer(body: Mapping[str, Any], classes: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Label names and probabilities from a classic ``Results.output1`` DataTable (string cells)."""
    results = body["Results"]
    output = results.get("output1") or next(iter(results.values()))
    table = output.get("value", output)
    columns = list(table["ColumnNames"])
    label_at = columns.index(SCORED_LABEL) if SCORED_LABEL in columns else None
    class_at = {}
    for position, column in enumerate(columns):
        match = SCORED_CLASS.match(column)
        if match:
            if match.group(1) not in classes:
                raise ValueError(f"answer scores class {match.group(1)!r}, unknown to the model's metadata")
            class_at[classes.index(match.group(1))] = position
    rows = table["Values"]
    probabilities = np.zeros((len(rows), len(classes)))
    for k, position in class_at.items():
        probabilities[:, k] = [float(row[position]) for row in rows]
    if SCORED_BINARY in columns:
        for i, row in enumerate(rows):
            _binary(probabilities, i, row[columns.index(SCORED_BINARY)], classes)
    labels = [str(row[label_at]) if label_at is not None else "" for row in rows]
    return labels, probabilities


class AzureClient(HttpClient):
    """An Azure ML deployment; ``classic`` selects the Studio ``/execute`` service."""

    dialect = "azure"

    def __init__(
        self, url: str, key: str, model: str, *, classic: bool = False, workspace: str = "default", **options: Any
    ) -> None:
        super().__init__(url, key, model, **options)
        self.classic = classic
        self.workspace = workspace

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Tree-model records as table rows, columns in the model's field order."""
        columns = self.field_names()

        def send(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            rows = [[None if is_missing(r.get(c)) else r.get(c) for c in columns] for r in records[start:stop]]
            return self._score(columns, rows)

        return self._batched(len(records), max(1, len(columns)), send)

    def predict_proba(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel rows as table rows, one column per pixel."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        columns = [f"pixel_{i}" for i in range(X.shape[1])]

        def send(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
            return self._score(columns, X[start:stop].tolist())

        return self._batched(len(X), X.shape[1], send)

    def _score(self, columns: list[str], rows: list[list[Any]]) -> tuple[np.ndarray, np.ndarray]:
        classes = self.classes
        if self.classic:
            body = {
                "Inputs": {"input1": {"ColumnNames": columns, "Values": [[_cell(v) for v in row] for row in rows]}},
                "GlobalParameters": {},
            }
            answer = self._request(
                "POST",
                f"/workspaces/{self.workspace}/services/{self.model}/execute",
                rows=len(rows),
                json_body=body,
                params={"api-version": "2.0", "details": "true"},
            ).json()
            labels, probabilities = parse_execute_answer(answer, classes)
        else:
            body = {"input_data": {"columns": columns, "index": list(range(len(rows))), "data": rows}}
            answer = self._request(
                "POST", "/score", rows=len(rows), json_body=body, headers={"azureml-model-deployment": self.model}
            ).json()
            labels, probabilities = parse_score_answer(answer, classes)
        if len(labels) != len(rows):
            raise ValueError(f"{len(rows)} rows sent, {len(labels)} scored")
        return class_indices(labels, classes, probabilities), probabilities


def _cell(value: Any) -> str:
    """Classic Studio tables carry strings; a missing cell is the empty string."""
    if value is None:
        return ""
    return format(value, ".9g") if isinstance(value, float) else str(value)
