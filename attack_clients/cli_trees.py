"""Subcommands ``tree-map`` (black-box MAP) and ``tree-wbwc`` (white-box with counts).

Targets: for a built-in tree, the training and held-out rows named in its
metadata, read from the data file (``--data-dir`` or ``MLAAS_DATA_DIR``); for
any model, ``--records CSV`` (field columns, the label column, optionally a
``split`` column). The sensitive feature defaults to the model's ``sensitive``.

Adversary knowledge, stated in results.json: the targets' other features and
true labels; the prior of x_1 (MAP: the training marginal, as published
statistics would give it; WBWC: the marginal in the downloaded model JSON); for
MAP the model's confusion matrix, from ``--confusion FILE`` or measured through
the API on the held-out rows (an auxiliary labelled sample, like a published
evaluation).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from attack_clients.cli import add_target_arguments, client_from_args, write_results
from attack_clients.clients import ApiError, DownloadForbidden, HttpClient
from attack_clients.trees.attacks import (
    TIE_BREAK,
    Confusion,
    Inference,
    confusion_from_oracle,
    map_attack,
    marginal,
    wbwc_attack,
)
from attack_clients.trees.metrics import (
    attribute_metrics,
    baseline_metrics,
    ideal_metrics,
    positive_value,
    random_metrics,
)
from attack_clients.trees.model import BigMLTree
from attack_clients.trees.records import TargetSet, builtin_targets, csv_targets

Runner = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tree-map`` and ``tree-wbwc`` to the CLI."""
    commands: dict[str, tuple[str, Runner]] = {
        "tree-map": ("black-box MAP inference of a tree's sensitive feature (Fredrikson 2014)", run_map),
        "tree-wbwc": ("white-box-with-counts inference over the downloaded tree (CCS 2015)", run_wbwc),
    }
    for name, (summary, runner) in commands.items():
        parser = subparsers.add_parser(
            name, help=summary, description=f"{summary}; writes OUT/results.json and OUT/guesses.csv."
        )
        add_target_arguments(parser)
        tree = parser.add_argument_group("targets")
        tree.add_argument("--sensitive", help="the feature to infer (default: the model's sensitive field)")
        tree.add_argument("--records", type=Path, help="CSV of targets: field columns and the label column")
        tree.add_argument("--label-column", help="label column in --records (default: the model's objective)")
        tree.add_argument("--split-column", default="split", help="train/heldout column in --records")
        tree.add_argument("--data-dir", type=Path, help="data folder for built-in trees (default MLAAS_DATA_DIR)")
        tree.add_argument("--positive", help='the sensitive value to score (default: a "yes", else the rarest)')
        if name == "tree-map":
            tree.add_argument("--confusion", type=Path, help='JSON {"classes": [...], "counts": [[...]]}')
            tree.add_argument(
                "--confusion-sample",
                choices=["heldout", "training"],
                default="heldout",
                help="targets whose API answers give the confusion matrix (default heldout)",
            )
            tree.add_argument("--smoothing", type=float, default=1.0, help="additive smoothing of the confusion")
        else:
            tree.add_argument("--model-json", type=Path, help="an already downloaded BigML model JSON")
        parser.set_defaults(handler=runner)


@dataclass
class Setup:
    """What both tree attacks start from."""

    client: HttpClient
    metadata: dict[str, Any]
    fields: list[dict[str, Any]]
    sensitive: str
    objective: str
    sets: dict[str, TargetSet]
    source: str


def _objective(args: argparse.Namespace) -> str:
    """The label column: ``--label-column``, else the objective the BigML listing names."""
    if args.label_column:
        return args.label_column
    try:
        name = client_from_args(args, "bigml").resource().get("objective_field_name")
    except ApiError:
        name = None
    if not name:
        raise SystemExit("the service does not name the model's objective: pass --label-column")
    return str(name)


def _setup(args: argparse.Namespace) -> Setup:
    client = client_from_args(args)
    metadata = client.metadata()
    if metadata.get("kind") != "tree":
        raise SystemExit(f"{args.model} is a {metadata.get('kind')} model: the tree attacks need a tree")
    fields = list(metadata.get("fields") or [])
    sensitive = args.sensitive or metadata.get("sensitive")
    if not sensitive:
        raise SystemExit("the model names no sensitive field: pass --sensitive")
    if sensitive not in {f["name"] for f in fields}:
        raise SystemExit(f"the model has no field {sensitive!r}")
    if args.records is not None:
        objective = _objective(args)
        sets = csv_targets(args.records, fields, objective, args.split_column)
        source = str(args.records)
    else:
        raw_dir = args.data_dir or os.environ.get("MLAAS_DATA_DIR")
        sets, objective = builtin_targets(metadata, Path(raw_dir) if raw_dir else None, args.label_column)
        source = f"{metadata.get('dataset')} rows named by the model's metadata"
    sets = {name: s.usable(sensitive) for name, s in sets.items()}
    return Setup(client, metadata, fields, sensitive, objective, sets, source)


def _training(setup: Setup) -> TargetSet:
    return setup.sets.get("training") or next(iter(setup.sets.values()))


def _values(setup: Setup) -> list[str]:
    for field in setup.fields:
        if field["name"] == setup.sensitive and field.get("categories"):
            return [str(c) for c in field["categories"]]
    seen = {str(r[setup.sensitive]) for s in setup.sets.values() for r in s.records}
    return sorted(seen)


def _score(
    setup: Setup, inferences: Mapping[str, Inference], values: list[str], prior: Mapping[str, float], positive: str
) -> dict[str, Any]:
    training = _training(setup)
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


def _write_guesses(out: Path, setup: Setup, inferences: Mapping[str, Inference]) -> None:
    """Per target: its set, row, label, true x_1, guess and each value's score."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "guesses.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        values = next(iter(inferences.values())).values if inferences else []
        writer.writerow(["set", "row", "label", "truth", "guess", *[f"score:{v}" for v in values]])
        for name, inference in inferences.items():
            targets = setup.sets[name]
            for i, (record, label) in enumerate(zip(targets.records, targets.labels, strict=True)):
                writer.writerow([name, i, label, record[setup.sensitive], inference.guesses[i], *inference.scores[i]])


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _summary(title: str, metrics: Mapping[str, Any], cost: Mapping[str, Any]) -> None:
    table = Table(title=title)
    for column in ("set", "who", "n", "accuracy", "precision", "recall"):
        table.add_column(column)
    for name, row in metrics.items():
        for who in ("attack", "baseline", "random", "ideal"):
            m = row[who]
            table.add_row(name, who, str(m["n"]), _fmt(m["accuracy"]), _fmt(m["precision"]), _fmt(m["recall"]))
    console = Console()
    console.print(table)
    console.print(
        f"{cost['queries']} requests, {cost['rows']} rows, {cost['bytes_sent']} B sent, "
        f"{cost['bytes_received']} B received, {cost['seconds']:.2f} s"
    )


def _results(args: argparse.Namespace, setup: Setup, parameters: dict[str, Any], metrics: Any) -> dict[str, Any]:
    stats = setup.client.stats.as_dict()
    return {
        "attack": args.attack,
        "url": args.url,
        "model": args.model,
        "dialect": args.dialect,
        "parameters": {
            "sensitive": setup.sensitive,
            "objective": setup.objective,
            "targets": setup.source,
            "target_counts": {name: len(s.records) for name, s in setup.sets.items()},
            "tie_break": TIE_BREAK,
            "max_rows": args.max_rows,
            **parameters,
        },
        **stats,
        "metrics": metrics,
    }


def run_map(args: argparse.Namespace) -> int:
    """Black-box MAP over every target set; writes results.json and guesses.csv."""
    setup = _setup(args)
    client = setup.client
    values = _values(setup)
    training = _training(setup)
    prior = marginal([r[setup.sensitive] for r in training.records], values)
    positive = positive_value(values, prior, args.positive)
    before = client.stats.snapshot()
    if args.confusion is not None:
        confusion = Confusion.from_json(json.loads(args.confusion.read_text()), args.smoothing)
        confusion_source = str(args.confusion)
    else:
        sample_name = args.confusion_sample if args.confusion_sample in setup.sets else next(iter(setup.sets))
        sample = setup.sets[sample_name]
        confusion = confusion_from_oracle(client, sample.records, sample.labels, args.smoothing)
        confusion_source = f"API answers on the {sample_name} targets' full records ({len(sample.records)} rows)"
    confusion_cost = client.stats.since(before)
    middle = client.stats.snapshot()
    inferences = {
        name: map_attack(client, s.records, s.labels, setup.sensitive, values, prior, confusion)
        for name, s in setup.sets.items()
    }
    metrics = _score(setup, inferences, values, prior, positive)
    parameters = {
        "values": values,
        "positive": positive,
        "prior": prior,
        "prior_source": "marginal of x_1 among the training targets (published statistics)",
        "confusion": confusion.to_json(),
        "confusion_source": confusion_source,
        "cost": {"confusion": confusion_cost.as_dict(), "attack": client.stats.since(middle).as_dict()},
    }
    results = _results(args, setup, parameters, metrics)
    path = write_results(args.out, results)
    _write_guesses(args.out, setup, inferences)
    _summary(f"tree-map on {args.model} ({setup.sensitive})", metrics, client.stats.as_dict())
    print(f"results: {path}")
    return 0


def run_wbwc(args: argparse.Namespace) -> int:
    """White-box with counts from the BigML model JSON; writes results.json and guesses.csv."""
    setup = _setup(args)
    if args.model_json is not None:
        model_json = json.loads(args.model_json.read_text())
        model_source = str(args.model_json)
    else:
        downloader = setup.client if args.dialect == "bigml" else client_from_args(args, "bigml")
        try:
            model_json = downloader.download_model()
        except DownloadForbidden as exc:
            results = _results(args, setup, {"error": f"download forbidden: {exc.message}"}, None)
            write_results(args.out, results)
            print(f"download forbidden (white-box impossible): {exc.message}")
            return 2
        if downloader is not setup.client:
            _absorb(setup.client, downloader)
        model_source = f"GET /andromeda/{downloader.resource_id}"
    tree = BigMLTree(model_json)
    values = tree.categories(setup.sensitive) or _values(setup)
    try:
        prior = tree.prior(setup.sensitive)
        prior_source = "training marginal in the model JSON's field summary"
    except ValueError:
        prior = marginal([r[setup.sensitive] for r in _training(setup).records], values)
        prior_source = "marginal of x_1 among the training targets (the JSON has no counts)"
    positive = positive_value(values, prior, args.positive)
    inferences = {
        name: wbwc_attack(tree, s.records, s.labels, setup.sensitive, values, prior) for name, s in setup.sets.items()
    }
    metrics = _score(setup, inferences, values, prior, positive)
    parameters = {
        "values": values,
        "positive": positive,
        "prior": prior,
        "prior_source": prior_source,
        "model_source": model_source,
        "leaves": len(tree.leaves()),
    }
    path = write_results(args.out, _results(args, setup, parameters, metrics))
    _write_guesses(args.out, setup, inferences)
    _summary(f"tree-wbwc on {args.model} ({setup.sensitive})", metrics, setup.client.stats.as_dict())
    print(f"results: {path}")
    return 0


def _absorb(client: HttpClient, other: HttpClient) -> None:
    """Add a helper client's traffic (the download) to the run's accounting."""
    for name, value in other.stats.as_dict().items():
        setattr(client.stats, name, getattr(client.stats, name) + value)
