"""What both tree attacks start from: their common parameters, targets and scoring.

Targets: for a built-in tree, the training and held-out rows named in its
metadata, read from the data file (``data_dir`` or ``MLAAS_DATA_DIR``); for any
model, ``records`` (a CSV with field columns, the label column, optionally a
split column). The sensitive feature defaults to the model's ``sensitive``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attack_clients.attacks.base import AttackNotApplicable, AttackResult, Params, Target, cli
from attack_clients.clients import ApiError, DownloadForbidden, HttpClient
from attack_clients.trees.attacks import TIE_BREAK, Inference
from attack_clients.trees.metrics import attribute_metrics, baseline_metrics, ideal_metrics, random_metrics
from attack_clients.trees.records import TargetSet, builtin_targets, csv_targets


@dataclass(frozen=True)
class TreeParams(Params):
    """The settings both tree attacks take."""

    sensitive: str | None = field(
        default=None, metadata=cli("the feature to infer (default: the model's sensitive field)")
    )
    records: Path | None = field(
        default=None, metadata=cli("CSV of targets: field columns and the label column", parse=Path)
    )
    label_column: str | None = field(
        default=None, metadata=cli("label column in --records (default: the model's objective)")
    )
    split_column: str = field(default="split", metadata=cli("train/heldout column in --records"))
    data_dir: Path | None = field(
        default=None, metadata=cli("data folder for built-in trees (default MLAAS_DATA_DIR)", parse=Path)
    )
    positive: str | None = field(
        default=None, metadata=cli('the sensitive value to score (default: a "yes", else the rarest)')
    )


@dataclass
class Setup:
    """The connected client, the model's fields and the target sets."""

    client: HttpClient
    metadata: dict[str, Any]
    fields: list[dict[str, Any]]
    sensitive: str
    objective: str
    sets: dict[str, TargetSet]
    source: str

    @property
    def training(self) -> TargetSet:
        return self.sets.get("training") or next(iter(self.sets.values()))

    def values(self) -> list[str]:
        """The sensitive feature's values: the model's categories, else those the targets hold."""
        for spec in self.fields:
            if spec["name"] == self.sensitive and spec.get("categories"):
                return [str(c) for c in spec["categories"]]
        return sorted({str(r[self.sensitive]) for s in self.sets.values() for r in s.records})


def _objective(target: Target, params: TreeParams) -> str:
    """The label column: ``label_column``, else the objective the BigML listing names."""
    if params.label_column:
        return params.label_column
    try:
        name = target.connect("bigml").resource().get("objective_field_name")
    except ApiError:
        name = None
    if not name:
        raise AttackNotApplicable("the service does not name the model's objective: pass --label-column")
    return str(name)


def setup(target: Target, params: TreeParams) -> Setup:
    client = target.connect()
    metadata = client.metadata()
    if metadata.get("kind") != "tree":
        raise AttackNotApplicable(f"{target.model} is a {metadata.get('kind')} model: the tree attacks need a tree")
    fields = list(metadata.get("fields") or [])
    sensitive = params.sensitive or metadata.get("sensitive")
    if not sensitive:
        raise AttackNotApplicable("the model names no sensitive field: pass --sensitive")
    if sensitive not in {f["name"] for f in fields}:
        raise AttackNotApplicable(f"the model has no field {sensitive!r}")
    if params.records is not None:
        objective = _objective(target, params)
        sets = csv_targets(params.records, fields, objective, params.split_column)
        source = str(params.records)
    else:
        raw_dir = params.data_dir or os.environ.get("MLAAS_DATA_DIR")
        sets, objective = builtin_targets(metadata, Path(raw_dir) if raw_dir else None, params.label_column)
        source = f"{metadata.get('dataset')} rows named by the model's metadata"
    sets = {name: s.usable(sensitive) for name, s in sets.items()}
    return Setup(client, metadata, fields, sensitive, objective, sets, source)


def score(
    setup: Setup, inferences: Mapping[str, Inference], values: list[str], prior: Mapping[str, float], positive: str
) -> dict[str, Any]:
    """Per target set: the attack's, the baseline's, random guessing's and the ideal attacker's metrics."""
    training = setup.training
    ideal = ideal_metrics(
        training.records,
        training.labels,
        setup.sensitive,
        setup.fields,
        {name: (s.records, s.labels) for name, s in setup.sets.items()},
        positive,
    )
    metrics = {}
    for name, targets in setup.sets.items():
        truth = [str(r[setup.sensitive]) for r in targets.records]
        metrics[name] = {
            "attack": attribute_metrics(truth, inferences[name].guesses, positive),
            "baseline": baseline_metrics(truth, prior, positive),
            "random": random_metrics(truth, values, positive),
            "ideal": ideal[name],
        }
    return metrics


def guesses(setup: Setup, inferences: Mapping[str, Inference]) -> list[list[Any]]:
    """``guesses.csv``: per target its set, row, label, true x_1, guess and each value's score."""
    values = next(iter(inferences.values())).values if inferences else []
    table: list[list[Any]] = [["set", "row", "label", "truth", "guess", *[f"score:{v}" for v in values]]]
    for name, inference in inferences.items():
        targets = setup.sets[name]
        for i, (record, label) in enumerate(zip(targets.records, targets.labels, strict=True)):
            table.append([name, i, label, record[setup.sensitive], inference.guesses[i], *inference.scores[i]])
    return table


def document(attack: str, target: Target, setup: Setup, parameters: dict[str, Any], metrics: Any) -> dict[str, Any]:
    """The ``results.json`` of a tree attack: target, parameters, the client's whole traffic, metrics."""
    return {
        "attack": attack,
        "url": target.url,
        "model": target.model,
        "dialect": target.dialect,
        "parameters": {
            "sensitive": setup.sensitive,
            "objective": setup.objective,
            "targets": setup.source,
            "target_counts": {name: len(s.records) for name, s in setup.sets.items()},
            "tie_break": TIE_BREAK,
            "max_rows": target.max_rows,
            **parameters,
        },
        **setup.client.stats.as_dict(),
        "metrics": metrics,
    }


def result(
    attack: str,
    target: Target,
    setup: Setup,
    parameters: dict[str, Any],
    inferences: Mapping[str, Inference],
    metrics: Any,
) -> AttackResult:
    return AttackResult(
        document(attack, target, setup, parameters, metrics), tables={"guesses.csv": guesses(setup, inferences)}
    )


def download_tree(attack: str, target: Target, setup: Setup) -> tuple[dict[str, Any], str]:
    """The BigML model JSON and where it came from, fetched through the BigML dialect.

    The download's traffic joins the run's; a refused download makes a white-box
    attack not applicable (with the run's document).
    """
    downloader = setup.client if target.dialect == "bigml" else target.connect("bigml")
    try:
        model_json = downloader.download_model()
    except DownloadForbidden as exc:
        failed = document(attack, target, setup, {"error": f"download forbidden: {exc.message}"}, None)
        raise AttackNotApplicable(f"download forbidden (white-box impossible): {exc.message}", failed) from None
    if downloader is not setup.client:
        for name, value in downloader.stats.as_dict().items():
            setattr(setup.client.stats, name, getattr(setup.client.stats, name) + value)
    return model_json, f"GET /andromeda/{downloader.resource_id}"
