"""Served models, uploads and predictions as BigML resource JSON.

Field ids are BigML's: six hex digits by column. A built-in model's inputs are
numbered in its schema's order and its objective comes last; an uploaded
model's fields keep the ids of their CSV columns (``ServedModel.columns``), as
BigML's do from source to dataset to model.

Trees render as BigML model JSON: nodes in pre-order with their training class
counts and, as ``confidence``, the Wilson-score lower bound of the majority
share (the white-box download). Field summaries carry training counts where
they are known: an upload's dataset, or a zoo export that has ``summary``
entries; the zoo's built-in exports have none yet, so built-in categorical
inputs list their categories with count 0.

Image models render as BigML deepnets whose layer ``weights`` are BigML's rows,
one per node: the transpose of the zoo's ``(in, out)`` matrices. They are large
(``faces-mlp``: 10304x3000, some 400 MB of JSON), so ``stream_deepnet`` writes
them in slices of about ``SLICE_FLOATS`` numbers instead of building the whole
document in memory.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from app.core.registry import READY, model_state
from app.core.service import Prediction
from app.core.uploads import Column, DatasetRecord, SourceRecord
from app.zoo.base import Field, ServedModel
from app.zoo.tree_train import NO_ANSWER

WILSON_Z = 1.96
BUILTIN_CREATED = 1444608000.0  # built-ins have no creation record: CCS 2015's first day
SLICE_FLOATS = 1 << 20
LOCALE = "en-US"


def field_id(index: int) -> str:
    return f"{index:06x}"


@lru_cache(maxsize=256)
def builtin_id(name: str) -> str:
    """A stable id for a built-in model: the first 24 hex digits of sha1(name)."""
    return hashlib.sha1(name.encode()).hexdigest()[:24]


@lru_cache(maxsize=16)
def builtin_names(names: tuple[str, ...]) -> dict[str, str]:
    """Built-in model names by id (the first name, should two share an id)."""
    table: dict[str, str] = {}
    for name in names:
        table.setdefault(builtin_id(name), name)
    return table


def kind_of(model: ServedModel) -> str:
    """Networks (over pixels, or a split network's features) are deepnets; trees are models."""
    return "deepnet" if model.image_shape is not None or model.vector_input is not None else "model"


def resource_of(model: ServedModel) -> str:
    ident = model.upload_id if model.upload_id is not None else builtin_id(model.name)
    return f"{kind_of(model)}/{ident}"


def timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    if moment.year >= 1000:  # isoformat is quicker; strftime's %Y has no leading zeros before 1000
        return moment.isoformat(timespec="microseconds")[:26]
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


def finished(what: str) -> dict[str, Any]:
    return {"code": 5, "message": f"The {what} has been created", "progress": 1, "elapsed": 0}


UNFINISHED = {"queued": (1, "is queued"), "training": (3, "is being trained"), "failed": (-1, "could not be trained")}
"""A defended model's training state as BigML's status codes (1 queued, 3 in progress, -1 faulty)."""
DEFENSE_FACTS = ("training_defense", "training_defense_params", "epsilon", "delta", "heldout_accuracy")
"""What a listing entry shows of a model trained with a defence."""


def status_of(model: ServedModel) -> dict[str, Any]:
    state = model_state(model)
    if state == READY:
        return finished(kind_of(model))
    code, message = UNFINISHED[state]
    status = {"code": code, "message": f"The {kind_of(model)} {message}", "progress": 0, "elapsed": 0}
    if model.metadata.get("failure"):
        status["error"] = model.metadata["failure"]
    return status


def wilson_lower_bound(share: float, n: float, z: float = WILSON_Z) -> float:
    """BigML's node confidence: the Wilson score interval's lower bound for ``share`` of ``n``."""
    if n <= 0:
        return 0.0
    factor = z * z / n
    spread = z * math.sqrt((share * (1 - share) + factor / 4) / n)
    return max(0.0, (share + factor / 2 - spread) / (1 + factor))


_cache: dict[tuple[str, str, int], Any] = {}
_cache_lock = threading.Lock()
CACHE_MAX = 512


def _per_model(model: ServedModel, what: str, build: Callable[[], Any]) -> Any:
    """``build()``, once per model and worker: served models never change, and the
    registry keeps each one, so the object's identity is a safe part of the key."""
    key = (what, resource_of(model), id(model))
    try:
        return _cache[key]  # a dict read is atomic: no lock needed for a hit
    except KeyError:
        pass
    value = build()
    with _cache_lock:
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        _cache[key] = value
    return value


# --- fields -----------------------------------------------------------------------


class FieldIds:
    """Ids of a model's fields, both ways: inputs in schema order, then the objective."""

    def __init__(self, model: ServedModel) -> None:
        names = [f.name for f in model.fields] + [model.objective.name]
        column = {name: i for i, name in enumerate(model.columns or names)}
        self.ids = [field_id(column[name]) for name in names]
        self.inputs = self.ids[:-1]
        self.objective = self.ids[-1]
        self.fields: dict[str, Field] = dict(zip(self.ids, [*model.fields, model.objective], strict=True))
        self.by_name = {name: ident for ident, name in zip(self.ids, names, strict=True)}

    def resolve(self, key: str) -> str | None:
        """A field id from an id or a name; ``None`` if the model has no such field."""
        return key if key in self.fields else self.by_name.get(key)


def field_ids(model: ServedModel) -> FieldIds:
    return _per_model(model, "ids", lambda: FieldIds(model))


def field_json(field: Field, column: int, summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    numeric = field.optype == "numeric"
    out: dict[str, Any] = {
        "name": field.name,
        "optype": field.optype,
        "datatype": "double" if numeric else "string",
        "column_number": column,
        "preferred": True,
    }
    if summary is not None:
        out["summary"] = dict(summary)
    elif not numeric:
        out["summary"] = {"categories": [[c, 0] for c in field.categories]}
    elif field.minimum is not None and field.maximum is not None:
        out["summary"] = {"minimum": field.minimum, "maximum": field.maximum}
    return out


def fields_json(
    model: ServedModel, summaries: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Every field of the model by id; ``summaries`` (by field name) carry training counts."""
    summaries = summaries or {}
    return {
        ident: field_json(field, int(ident, 16), summaries.get(field.name))
        for ident, field in field_ids(model).fields.items()
    }


def plain_fields(model: ServedModel) -> dict[str, dict[str, Any]]:
    """``fields_json`` without summaries, shared (never modify it): 10304 pixels add up."""
    return _per_model(model, "fields", lambda: fields_json(model))


# --- trees ------------------------------------------------------------------------


def _number(value: float) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value


class TreeRenderer:
    """Zoo tree export -> BigML nodes, numbered in pre-order as BigML does."""

    def __init__(self, classes: Sequence[str], ids: FieldIds) -> None:
        self.classes = list(classes)
        self.ids = ids
        self.next_id = 0

    def node(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        counts = np.asarray(raw["counts"], dtype=np.float64)
        total = counts.sum()
        count = float(raw.get("count", total))
        best = int(counts.argmax()) if counts.size else 0
        order = sorted(range(len(counts)), key=lambda i: (-counts[i], i))
        out: dict[str, Any] = {
            "id": self.next_id,
            "predicate": bigml_predicate(raw["predicate"], self.ids),
            "output": raw.get("output", self.classes[best]),
            "confidence": wilson_lower_bound(float(counts[best] / total) if total > 0 else 0.0, count),
            "count": _number(count),
            "objective_summary": {"categories": [[self.classes[i], _number(counts[i])] for i in order if counts[i]]},
        }
        self.next_id += 1
        out["children"] = [self.node(child) for child in raw.get("children") or []]
        return out


def bigml_predicate(raw: Any, ids: FieldIds) -> Any:
    """A zoo predicate (field by name) as BigML's (field by id); the root's is ``true``."""
    if raw is True or raw is None:
        return True
    value = raw["value"]
    return {
        "field": ids.by_name.get(raw["field"], raw["field"]),
        "operator": raw["operator"],
        "value": value if isinstance(value, str) else _number(value),
    }


@dataclass(frozen=True)
class RenderedTree:
    """A tree's BigML nodes and field ids, rendered once per model and worker (models never change)."""

    export: dict[str, Any]
    ids: FieldIds
    root: dict[str, Any]
    _paths: dict[int, dict[str, Any]] = dataclass_field(default_factory=dict, compare=False, repr=False)

    def path_to(self, model: ServedModel, node: int) -> dict[str, Any]:
        """``prediction_path`` of a descent ending at the zoo's ``node``, built once per node and
        shared (never modify it): a tree has few nodes and the path depends on nothing else."""
        cached = self._paths.get(node)
        if cached is None:
            cached = self._paths.setdefault(node, self.path(model.path_to(node)))
        return cached

    def path(self, predicates: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """BigML's ``prediction_path`` of the zoo's path (its predicates, root excluded)."""
        node, rules = self.root, []
        for raw in predicates:
            wanted = bigml_predicate(raw, self.ids)
            node = next((child for child in node["children"] if child["predicate"] == wanted), None)
            if node is None:
                raise ValueError(f"the tree has no branch {wanted} where the zoo's path goes")
            rules.append(rule_text(wanted, self.ids))
        return {
            "path": rules,
            "next_predicates": [child["predicate"] for child in node["children"]],
            "unknown_fields": [],
        }


def rendered_tree(model: ServedModel) -> RenderedTree:
    def render() -> RenderedTree:
        export = model.export()
        ids = field_ids(model)
        return RenderedTree(export, ids, TreeRenderer(export["classes"], ids).node(export["root"]))

    return _per_model(model, "tree", render)


def rule_text(predicate: Mapping[str, Any], ids: FieldIds) -> str:
    """A split as BigML's prediction paths print it: ``petal length > 2.45``."""
    name = ids.fields[predicate["field"]].name
    return f"{name} {predicate['operator']} {predicate['value']}"


def objective_summary(export: Mapping[str, Any]) -> list[list[Any]]:
    counts = export["root"]["counts"]
    return [[c, _number(n)] for c, n in zip(export["classes"], counts, strict=True)]


def tree_json(
    model: ServedModel,
    *,
    created: float,
    dataset: str | None = None,
    source: str | None = None,
    summaries: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The full BigML model resource of a tree, root and all (the white-box download).

    Field summaries come from ``summaries`` (by field name: an upload's dataset),
    else from the zoo's export when it has them; the objective's are the root's counts.
    """
    tree = rendered_tree(model)
    ids = tree.ids
    exported = {f["name"]: f["summary"] for f in tree.export.get("fields") or [] if f.get("summary")}
    summaries = {**exported, **(summaries or {}), model.objective.name: {"categories": objective_summary(tree.export)}}
    fields = fields_json(model, summaries)
    head = _head(model, created, dataset=dataset, source=source)
    head.update(
        {
            "rows": _number(tree.export.get("training_count", tree.root["count"])),
            "missing_splits": False,
            "model": {
                "root": tree.root,
                "fields": fields,
                "model_fields": {i: fields[i] for i in ids.ids},
                "distribution": {
                    "training": {"categories": [pair for pair in objective_summary(tree.export) if pair[1] > 0]}
                },
                "kind": "stree",
                "missing_strategy": 0,
                "nodes": 1 + _count_nodes(tree.root),
            },
        }
    )
    return head


def _count_nodes(node: Mapping[str, Any]) -> int:
    return sum(1 + _count_nodes(child) for child in node["children"])


def _head(model: ServedModel, created: float, *, dataset: str | None = None, source: str | None = None) -> dict:
    ids = field_ids(model)
    return {
        "resource": resource_of(model),
        "name": model.name,
        "description": model.description,
        "code": 200,
        "status": status_of(model),
        "created": timestamp(created),
        "updated": timestamp(created),
        "category": 0,
        "tags": [],
        "locale": LOCALE,
        "private": True,
        "shared": False,
        "dataset": dataset,
        "source": source,
        "input_fields": ids.inputs,
        "objective_field": ids.objective,
        "objective_fields": [ids.objective],
        "objective_field_name": model.objective.name,
        "number_of_classes": len(model.classes),
    }


def listing_entry(
    model: ServedModel, *, created: float, dataset: str | None = None, source: str | None = None
) -> dict[str, Any]:
    """A model or deepnet as listings show it: identity and status, no fields or tree."""
    head = _head(model, created, dataset=dataset, source=source)
    del head["input_fields"]
    head["kind"] = model.kind
    if "training_defense" in model.metadata:
        head.update({key: model.metadata[key] for key in DEFENSE_FACTS if key in model.metadata})
    return head


# --- deepnets ---------------------------------------------------------------------


def deepnet_head(model: ServedModel, created: float) -> dict[str, Any]:
    """A deepnet resource without its network (``stream_deepnet`` adds it)."""
    head = _head(model, created)
    head["deepnet"] = {"fields": plain_fields(model), "image_shape": list(model.image_shape or ())}
    return head


def network_parts(model: ServedModel) -> Iterator[bytes]:
    """The ``network`` object as JSON pieces; no piece holds more than ``SLICE_FLOATS`` weights."""
    export = model.export()
    yield b'{"layers":['
    yield from _layers(export["layers"])
    yield b'],"decoder":['
    yield from _layers(export.get("decoder") or [])
    tail: dict[str, Any] = {"image_shape": list(export["image_shape"]), "classes": list(model.classes)}
    if export.get("decoder"):
        tail["encoder_depth"] = len(export["decoder"])
    if export.get("split_at") is not None:
        tail["split_at"] = export["split_at"]
    yield b"]," + orjson.dumps(tail)[1:]


def _layers(layers: Sequence[Mapping[str, Any]]) -> Iterator[bytes]:
    for index, layer in enumerate(layers):
        if layer.get("type") == "convolution":
            yield (b"," if index else b"") + _convolution(layer)
            continue
        weights = np.asarray(layer["weights"])
        n_in, n_out = weights.shape
        head = {
            "number_of_nodes": n_out,
            "activation_function": layer["activation"],
            "offset": np.ascontiguousarray(layer["bias"]),
        }
        yield (b"," if index else b"") + orjson.dumps(head, option=orjson.OPT_SERIALIZE_NUMPY)[:-1]
        yield b',"weights":['
        step = max(1, SLICE_FLOATS // max(1, n_in))
        for start in range(0, n_out, step):
            rows = np.ascontiguousarray(weights[:, start : start + step].T)
            yield (b"," if start else b"") + orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
        yield b"]}"


def _convolution(layer: Mapping[str, Any]) -> bytes:
    """A (small) convolution layer: ``weights`` one (channels, kernel_h, kernel_w) block per filter."""
    weights = np.ascontiguousarray(layer["weights"])
    return orjson.dumps(
        {
            "type": "convolution",
            "number_of_nodes": weights.shape[0],
            "activation_function": layer["activation"],
            "input_shape": layer["input_shape"],
            "stride": layer["stride"],
            "offset": np.ascontiguousarray(layer["bias"]),
            "weights": weights,
        },
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def _open(obj: Mapping[str, Any]) -> bytes:
    """``obj`` as JSON without its closing brace, ready for one more member."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)[:-1] + (b"," if obj else b"")


def stream_deepnet(head: Mapping[str, Any], model: ServedModel) -> Iterator[bytes]:
    """``head`` with ``deepnet.network`` streamed into it (last in ``deepnet``, which goes last)."""
    outer = {key: value for key, value in head.items() if key != "deepnet"}
    yield _open(outer) + b'"deepnet":' + _open(head.get("deepnet") or {}) + b'"network":'
    yield from network_parts(model)
    yield b"}}"


# --- uploads ----------------------------------------------------------------------


def _column_json(column: Column, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": column.name,
        "optype": column.optype,
        "datatype": "double" if column.optype == "numeric" else "string",
        "column_number": index,
        "preferred": True,
    }
    summary: dict[str, Any] = {"missing_count": column.missing_count}
    if column.optype == "numeric":
        summary.update({"minimum": column.minimum, "maximum": column.maximum, "mean": column.mean})
    else:
        summary["categories"] = [list(pair) for pair in column.categories]
    out["summary"] = summary
    return out


def _upload_head(resource: str, name: str, created: float, what: str) -> dict[str, Any]:
    return {
        "resource": resource,
        "name": name,
        "description": "",
        "code": 200,
        "status": finished(what),
        "created": timestamp(created),
        "updated": timestamp(created),
        "category": 0,
        "tags": [],
        "locale": LOCALE,
        "private": True,
    }


def source_json(record: SourceRecord) -> dict[str, Any]:
    out = _upload_head(f"source/{record.id}", record.name, record.created_at, "source")
    out.update(
        {
            "file_name": record.name,
            "size": record.size,
            "rows": record.rows,
            "source_parser": {"header": True, "separator": ",", "quote": '"', "locale": LOCALE},
            "fields": {field_id(i): {"name": n, "column_number": i} for i, n in enumerate(record.columns)},
        }
    )
    return out


def dataset_json(record: DatasetRecord) -> dict[str, Any]:
    out = _upload_head(f"dataset/{record.id}", record.name, record.created_at, "dataset")
    fields = {field_id(i): _column_json(c, i) for i, c in enumerate(record.columns)}
    out.update(
        {
            "source": f"source/{record.source_id}",
            "rows": record.rows,
            "columns": len(record.columns),
            "fields": fields,
            "input_fields": list(fields),
            "objective_field": {"id": field_id(len(record.columns) - 1)},
            "field_types": {
                "numeric": sum(c.optype == "numeric" for c in record.columns),
                "categorical": sum(c.optype == "categorical" for c in record.columns),
            },
        }
    )
    return out


def upload_summaries(record: DatasetRecord, model: ServedModel) -> dict[str, dict[str, Any]]:
    """Per input field of an uploaded model, its dataset summary in the model's terms.

    The zoo trains on a missing category as the category ``No answer``, so that
    is where a categorical column's missing values are counted.
    """
    columns = {c.name: c for c in record.columns}
    out: dict[str, dict[str, Any]] = {}
    for field in model.fields:
        column = columns.get(field.name)
        if column is None or column.optype != field.optype:
            continue
        summary = _column_json(column, 0)["summary"]
        if field.optype == "categorical":
            counts = dict(column.categories)
            if NO_ANSWER in field.categories:
                counts[NO_ANSWER] = counts.get(NO_ANSWER, 0) + column.missing_count
            summary["categories"] = [[c, counts.get(c, 0)] for c in field.categories]
        out[field.name] = summary
    return out


# --- predictions -------------------------------------------------------------------


def prediction_json(
    model: ServedModel, ids: FieldIds, prediction: Prediction, echo: dict[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
    """The BigML prediction resource; every number in it comes from the defended probabilities."""
    probabilities = [float(p) for p in prediction.probabilities[0].tolist()]
    label_index = int(prediction.labels[0])
    label = model.classes[label_index]
    ranked = [[c, p] for c, p in zip(model.classes, probabilities, strict=True)]
    now = timestamp(time.time())
    used = [*echo, ids.objective]
    fields = plain_fields(model)
    out: dict[str, Any] = {
        "resource": f"prediction/{secrets.token_hex(12)}",
        "code": 201,
        "status": finished("prediction"),
        "created": now,
        "updated": now,
        "name": body.get("name") or f"Prediction for {model.objective.name}",
        "description": body.get("description") or "",
        "tags": body.get("tags") or [],
        "category": body.get("category") or 0,
        "locale": LOCALE,
        "private": True,
        kind_of(model): resource_of(model),
        "input_data": echo,
        "objective_field": ids.objective,
        "objective_fields": [ids.objective],
        "fields": {i: fields[i] for i in used},
        "output": label,
        "prediction": {ids.objective: label},
        "confidence": probabilities[label_index],
        "probability": probabilities[label_index],
        "probabilities": ranked,
        "confidences": ranked,
        "missing_strategy": 0,
        "task": "classification",
    }
    if prediction.defense is not None:
        out["defense"] = prediction.defense
    return out
