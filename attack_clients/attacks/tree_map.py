"""Black-box MAP inference of a tree's sensitive feature (Fredrikson et al. 2014).

Adversary knowledge, stated in results.json: the targets' other features and
true labels; the prior of x_1 (the training marginal, as published statistics
would give it); the model's confusion matrix, from ``confusion`` or measured
through the API on the held-out rows (an auxiliary labelled sample, like a
published evaluation) or, with ``--confusion-sample training``, on the training
rows (the provider's evaluation of the model on its own training data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from attack_clients.attacks import tree_targets
from attack_clients.attacks.base import Attack, AttackResult, Command, Target, cli
from attack_clients.attacks.tree_targets import TreeParams
from attack_clients.trees.attacks import Confusion, confusion_from_oracle, map_attack, marginal
from attack_clients.trees.metrics import positive_value

SUMMARY = "black-box MAP inference of a tree's sensitive feature (Fredrikson 2014)"


@dataclass(frozen=True)
class TreeMapParams(TreeParams):
    confusion: Path | None = field(default=None, metadata=cli('JSON {"classes": [...], "counts": [[...]]}', parse=Path))
    confusion_sample: str = field(
        default="heldout",
        metadata=cli(
            "targets whose API answers give the confusion matrix (default heldout)", choices=("heldout", "training")
        ),
    )
    smoothing: float = field(default=1.0, metadata=cli("additive smoothing of the confusion"))


def run(target: Target, params: TreeMapParams) -> AttackResult:
    """Black-box MAP over every target set."""
    setup = tree_targets.setup(target, params)
    client = setup.client
    values = setup.values()
    prior = marginal([r[setup.sensitive] for r in setup.training.records], values)
    positive = positive_value(values, prior, params.positive)
    before = client.stats.snapshot()
    if params.confusion is not None:
        confusion = Confusion.from_json(json.loads(params.confusion.read_text()), params.smoothing)
        confusion_source = str(params.confusion)
    else:
        sample_name = params.confusion_sample if params.confusion_sample in setup.sets else next(iter(setup.sets))
        sample = setup.sets[sample_name]
        confusion = confusion_from_oracle(client, sample.records, sample.labels, params.smoothing)
        confusion_source = f"API answers on the {sample_name} targets' full records ({len(sample.records)} rows)"
    confusion_cost = client.stats.since(before)
    middle = client.stats.snapshot()
    inferences = {
        name: map_attack(client, s.records, s.labels, setup.sensitive, values, prior, confusion)
        for name, s in setup.sets.items()
    }
    metrics = tree_targets.score(setup, inferences, values, prior, positive)
    parameters = {
        "values": values,
        "positive": positive,
        "prior": prior,
        "prior_source": "marginal of x_1 among the training targets (published statistics)",
        "confusion": confusion.to_json(),
        "confusion_source": confusion_source,
        "cost": {"confusion": confusion_cost.as_dict(), "attack": client.stats.since(middle).as_dict()},
    }
    return tree_targets.result("tree-map", target, setup, parameters, inferences, metrics)


COMMAND = Command(
    "tree-map", "tree", SUMMARY, TreeMapParams, run, f"{SUMMARY}; writes OUT/results.json and OUT/guesses.csv."
)
ATTACK = Attack("tree-map", "Tree black-box MAP (2014)", "map", COMMAND, TreeMapParams())
TRAINING_CONFUSION = Attack(
    "tree-map-train",
    "Tree black-box MAP, confusion from the training rows",
    "map-train",
    COMMAND,
    TreeMapParams(confusion_sample="training"),
)
"""The attacker who has the provider's evaluation of the model on its own training data: that
confusion matrix is far more confident than the held-out one, so the estimator can announce "yes"."""
