"""The tree attacks against answers released under AttriGuard (Jia & Gong 2018; issue 14).

The defender is the data publisher. It holds every respondent's answers (the
model's training and held-out targets), fits its own classifier of the sensitive
answer from the public ones (``trees/code_logistic.py``: logistic regression on
the one-hot answers, over all those respondents) and releases each respondent's
public answers perturbed by ``defenses.attriguard`` with budget ``beta`` (the
expected number of changed answers per respondent), noise ``policy`` and the
default target: the respondents' share of each sensitive value.

The attacker then infers the sensitive answer of each released respondent with
(1) black-box MAP against the served tree, its confusion matrix measured through
the API on the unperturbed held-out answers as ``tree-map`` does; (2) white-box
with counts over the downloaded tree; (3) its own classifier trained on the
released answers of other respondents whose sensitive answer it knows
(``trees/learned_attacker.py``). Each is scored on the true sensitive answers,
beside the tree attacks' references: the majority baseline, random guessing and
the "ideal" learner, here trained on the training targets' true answers and
applied to the released ones (an attacker that ignores the perturbation).
The cell's headline ``attack`` metrics, whose training precision
``results.success_of`` reads, are white-box with counts' (the study's strongest
attack); all three are under ``attackers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.attacks import tree_targets
from attack_clients.attacks.base import Attack, AttackNotApplicable, AttackResult, Command, Target, cli
from attack_clients.attacks.tree_targets import Setup, TreeParams
from attack_clients.clients import DownloadForbidden
from attack_clients.trees.attacks import RecordOracle, confusion_from_oracle, map_attack, marginal, wbwc_attack
from attack_clients.trees.code_logistic import fit_code_logistic
from attack_clients.trees.learned_attacker import cross_fitted_guesses
from attack_clients.trees.metrics import (
    attribute_metrics,
    baseline_metrics,
    ideal_metrics,
    positive_value,
    random_metrics,
)
from attack_clients.trees.model import BigMLTree
from attack_clients.trees.public_answers import Questionnaire, questionnaire
from attack_clients.trees.records import TargetSet
from defenses.attriguard import POLICIES, AttriGuard

SUMMARY = "tree attacks (MAP, white-box with counts, own classifier) on answers released under AttriGuard"
ATTACKERS = ("map", "wbwc", "own")
HEADLINE = "wbwc"


@dataclass(frozen=True)
class AttriGuardParams(TreeParams):
    beta: float = field(default=1.0, metadata=cli("AttriGuard's budget: expected changed answers per respondent"))
    policy: str = field(
        default="both", metadata=cli("change answered questions, answer blank ones, or both", choices=POLICIES)
    )
    exact_max_changes: int = field(default=2, metadata=cli("phase I tries every change of up to this many answers"))
    folds: int = field(default=5, metadata=cli("cross-fitting folds of the attacker's own classifier"))
    seed: int = field(default=0, metadata=cli("seed of the released perturbations and the folds"))


@dataclass(frozen=True)
class Survey:
    """What the publisher holds and the attacks are scored on: the targets and the model's schema."""

    sets: dict[str, TargetSet]
    fields: list[dict[str, Any]]
    sensitive: str
    objective: str
    classes: list[str]
    values: list[str]

    @property
    def training(self) -> TargetSet:
        return self.sets.get("training") or next(iter(self.sets.values()))


@dataclass
class Release:
    """The released sets, what the release changed, and how the publisher made it."""

    sets: dict[str, TargetSet]
    changed: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    beyond_exact: dict[str, int]
    defender: dict[str, Any]


def release(survey: Survey, form: Questionnaire, params: AttriGuardParams) -> Release:
    """Every target's public answers as the publisher releases them under AttriGuard."""
    values = survey.values
    coded = {name: form.encode(s) for name, s in survey.sets.items()}
    truth = np.array([values.index(str(r[survey.sensitive])) for s in survey.sets.values() for r in s.records])
    everyone = np.vstack(list(coded.values()))
    defender = fit_code_logistic(everyone, truth, form.cardinalities, len(values))
    guard = AttriGuard(
        defender.predict_proba,
        form.cardinalities,
        params.beta,
        policy=params.policy,
        population=truth,
        exact_max_changes=params.exact_max_changes,
    )
    rng = np.random.default_rng(params.seed)
    description = {
        "classifier": "logistic regression on the one-hot public answers (scikit-learn, C = 1), "
        "fitted on every target respondent's true answers",
        "respondents": len(truth),
        "accuracy_on_its_data": float((defender.predict_proba(everyone).argmax(axis=1) == truth).mean()),
        "target": dict(zip(values, guard.target(len(values)).tolist(), strict=True)),
    }
    out = Release({}, {}, {}, {}, description)
    for name, codes in coded.items():
        released, expected, beyond = np.empty_like(codes), np.zeros(len(codes)), 0
        for i, x in enumerate(codes):
            mechanism = guard.mechanism(x)
            released[i] = mechanism.sample(rng)
            expected[i] = mechanism.expected_changes
            beyond += any(r is not None and not r.exact for r in mechanism.perturbations)
        out.sets[name] = form.decode(released, survey.sets[name])
        out.changed[name], out.expected[name], out.beyond_exact[name] = (
            (released != codes).sum(axis=1),
            expected,
            beyond,
        )
    return out


def _changes(released: Release, name: str) -> dict[str, Any]:
    changed = released.changed[name]
    if not len(changed):
        return {"mean": None, "expected": None, "share_changed": None, "histogram": [], "beyond_exact_search": 0}
    return {
        "mean": float(changed.mean()),
        "expected": float(released.expected[name].mean()),
        "share_changed": float((changed > 0).mean()),
        "histogram": np.bincount(changed).tolist(),
        "beyond_exact_search": released.beyond_exact[name],
    }


@dataclass
class Evaluation:
    """Per target set: each attacker's metrics on the released answers, and the parameters behind them."""

    metrics: dict[str, Any]
    parameters: dict[str, Any]
    table: list[list[Any]]


def evaluate_release(survey: Survey, oracle: RecordOracle, tree: BigMLTree, params: AttriGuardParams) -> Evaluation:
    """Release the targets' answers under AttriGuard, then run the three attackers on them."""
    values, sensitive = survey.values, survey.sensitive
    prior = marginal([r[sensitive] for r in survey.training.records], values)
    positive = positive_value(values, prior, params.positive)
    respondents = [r for s in survey.sets.values() for r in s.records]
    form = questionnaire(survey.fields, sensitive, survey.objective, survey.classes, respondents)
    released = release(survey, form, params)

    sample_name = "heldout" if "heldout" in survey.sets else next(iter(survey.sets))
    sample = survey.sets[sample_name]
    confusion = confusion_from_oracle(oracle, sample.records, sample.labels)
    try:
        tree_prior = tree.prior(sensitive)
    except ValueError:
        tree_prior = prior
    guesses: dict[str, dict[str, list[str]]] = {who: {} for who in ATTACKERS}
    for name, s in released.sets.items():
        guesses["map"][name] = map_attack(oracle, s.records, s.labels, sensitive, values, prior, confusion).guesses
        guesses["wbwc"][name] = wbwc_attack(tree, s.records, s.labels, sensitive, values, tree_prior).guesses
        guesses["own"][name] = cross_fitted_guesses(s, sensitive, params.folds, params.seed)

    training = survey.training
    ideal = ideal_metrics(
        training.records,
        training.labels,
        sensitive,
        survey.fields,
        {name: (s.records, s.labels) for name, s in released.sets.items()},
        positive,
    )
    metrics: dict[str, Any] = {}
    for name, s in survey.sets.items():
        truth = [str(r[sensitive]) for r in s.records]
        attackers = {who: attribute_metrics(truth, guesses[who][name], positive) for who in ATTACKERS}
        metrics[name] = {
            "attack": attackers[HEADLINE],
            "baseline": baseline_metrics(truth, prior, positive),
            "random": random_metrics(truth, values, positive),
            "ideal": ideal[name],
            "attackers": attackers,
            "changed": _changes(released, name),
        }
    parameters = {
        "values": values,
        "positive": positive,
        "prior": prior,
        "attriguard": {
            "beta": params.beta,
            "policy": params.policy,
            "exact_max_changes": params.exact_max_changes,
            "questions": [q.name for q in form.questions],
            "cardinalities": list(form.cardinalities),
            "released_unchanged": list(form.fixed),
            "defender": released.defender,
        },
        "headline": HEADLINE,
        "confusion_source": f"answers on the {sample_name} targets' unperturbed records ({len(sample.records)} rows)",
        "own_classifier": f"logistic regression on the one-hot released answers, {params.folds}-fold cross-fitted",
    }
    return Evaluation(metrics, parameters, _table(survey, released, guesses))


def _table(survey: Survey, released: Release, guesses: dict[str, dict[str, list[str]]]) -> list[list[Any]]:
    """Per target: its set, row, true sensitive answer, answers changed, each attacker's guess."""
    table: list[list[Any]] = [["set", "row", "truth", "changed", *(f"guess:{who}" for who in ATTACKERS)]]
    for name, s in survey.sets.items():
        for i, record in enumerate(s.records):
            row = [name, i, record[survey.sensitive], int(released.changed[name][i])]
            table.append(row + [guesses[who][name][i] for who in ATTACKERS])
    return table


def _tree(target: Target, setup: Setup) -> BigMLTree:
    downloader = setup.client if target.dialect == "bigml" else target.connect("bigml")
    try:
        return BigMLTree(downloader.download_model())
    except DownloadForbidden as exc:
        raise AttackNotApplicable(f"download forbidden (white-box with counts impossible): {exc.message}") from None


def run(target: Target, params: AttriGuardParams) -> AttackResult:
    """Over HTTP: the served tree answers MAP's queries and is downloaded for white-box with counts."""
    setup = tree_targets.setup(target, params)
    survey = Survey(setup.sets, setup.fields, setup.sensitive, setup.objective, setup.client.classes, setup.values())
    evaluation = evaluate_release(survey, setup.client, _tree(target, setup), params)
    document = tree_targets.document("attriguard", target, setup, evaluation.parameters, evaluation.metrics)
    return AttackResult(document, tables={"released.csv": evaluation.table})


COMMAND = Command(
    "attriguard", "tree", SUMMARY, AttriGuardParams, run, f"{SUMMARY}; writes OUT/results.json and OUT/released.csv."
)


def _variant(name: str, title: str, short: str, **changes: Any) -> Attack:
    return Attack(name, title, short, COMMAND, AttriGuardParams(**changes))


ATTACK = _variant("attriguard", "Tree attacks under AttriGuard, β = 1", "ag-b1")
BETA_SWEEP = tuple(
    _variant(f"attriguard-b{beta:g}", f"Tree attacks under AttriGuard, β = {beta:g}", f"ag-b{beta:g}", beta=beta)
    for beta in (0.0, 0.1, 0.25, 0.5, 2.0)
)
POLICY_VARIANTS = tuple(
    _variant(
        f"attriguard-{policy}", f"Tree attacks under AttriGuard, β = 1, {policy} only", f"ag-{policy}", policy=policy
    )
    for policy in ("modify", "add")
)
VARIANTS = (*BETA_SWEEP, *POLICY_VARIANTS)
"""The full profile's sweep beside ``ATTACK`` (opt-in: quick and tiny run ``ATTACK`` only)."""
NAMES = (ATTACK.name, *(v.name for v in VARIANTS))
