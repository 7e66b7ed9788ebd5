"""White-box-with-counts inference over the downloaded tree (Fredrikson et al. 2015).

The adversary downloads the BigML model JSON (through the BigML dialect
whatever the target's own) and reads the prior of x_1 from its field summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from attack_clients.attacks import tree_targets
from attack_clients.attacks.base import Attack, AttackResult, Command, Target, cli
from attack_clients.attacks.tree_targets import TreeParams
from attack_clients.trees.attacks import marginal, wbwc_attack
from attack_clients.trees.metrics import positive_value
from attack_clients.trees.model import BigMLTree

SUMMARY = "white-box-with-counts inference over the downloaded tree (CCS 2015)"


@dataclass(frozen=True)
class TreeWbwcParams(TreeParams):
    model_json: Path | None = field(default=None, metadata=cli("an already downloaded BigML model JSON", parse=Path))


def run(target: Target, params: TreeWbwcParams) -> AttackResult:
    """White-box with counts from the BigML model JSON."""
    setup = tree_targets.setup(target, params)
    if params.model_json is not None:
        model_json = json.loads(params.model_json.read_text())
        model_source = str(params.model_json)
    else:
        model_json, model_source = tree_targets.download_tree("tree-wbwc", target, setup)
    tree = BigMLTree(model_json)
    values = tree.categories(setup.sensitive) or setup.values()
    try:
        prior = tree.prior(setup.sensitive)
        prior_source = "training marginal in the model JSON's field summary"
    except ValueError:
        prior = marginal([r[setup.sensitive] for r in setup.training.records], values)
        prior_source = "marginal of x_1 among the training targets (the JSON has no counts)"
    positive = positive_value(values, prior, params.positive)
    inferences = {
        name: wbwc_attack(tree, s.records, s.labels, setup.sensitive, values, prior) for name, s in setup.sets.items()
    }
    metrics = tree_targets.score(setup, inferences, values, prior, positive)
    parameters = {
        "values": values,
        "positive": positive,
        "prior": prior,
        "prior_source": prior_source,
        "model_source": model_source,
        "leaves": len(tree.leaves()),
    }
    return tree_targets.result("tree-wbwc", target, setup, parameters, inferences, metrics)


COMMAND = Command(
    "tree-wbwc", "tree", SUMMARY, TreeWbwcParams, run, f"{SUMMARY}; writes OUT/results.json and OUT/guesses.csv."
)
ATTACK = Attack("tree-wbwc", "Tree white-box with counts (2015)", "wbwc", COMMAND, TreeWbwcParams(), white_box=True)
