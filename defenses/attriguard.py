"""AttriGuard (Jia & Gong, USENIX Security 2018): perturb a respondent's public answers
before release so that attribute inference is pushed towards a chosen target distribution.

A respondent's public answers are a vector of category codes: answer ``j`` takes a code
in ``0 .. cardinalities[j] - 1``, or ``MISSING`` when it was left unanswered. The
defender's classifier is any callable ``predict_proba(codes (n, m)) -> (n, n_values)``
over the sensitive attribute; its prediction is the argmax (lowest index on ties).

Phase I finds, for each sensitive value ``i``, a perturbation ``r_i`` changing as few
answers as possible such that the classifier predicts ``i`` on ``x + r_i``. Phase II
picks the distribution ``M`` over the ``r_i`` minimising ``KL(target || M)`` subject to
``sum_i M_i |r_i|_0 <= budget``; ``release`` samples one ``r_i`` from ``M``.

Noise policies: ``"modify"`` changes answered entries to another valid code, ``"add"``
fills unanswered entries, ``"both"`` may do either. No policy ever blanks an answer.

Guarantee of phase I: every perturbation of up to ``exact_max_changes`` answers is
tried, so a returned ``r_i`` with at most that many changes is a minimum. Beyond the cap
a greedy search (one change at a time, the one that most raises ``i``'s margin) gives a
valid but possibly larger ``r_i``; the true minimum is then known only to exceed the cap.
A value neither search reaches is unreachable for this respondent: it gets no mass and
the target is renormalised over the reachable values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

MISSING = -1
POLICIES = ("modify", "add", "both")
BATCH_SIZE = 4096
"""Candidate answer vectors scored per classifier call during phase I."""

PredictProba = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Perturbation:
    """``codes`` (x + r) makes the defender's classifier predict ``value``."""

    value: int
    codes: np.ndarray
    changed: tuple[int, ...]
    exact: bool
    """True when ``len(changed)`` is the minimum number of changes (exhaustive search)."""

    @property
    def n_changes(self) -> int:
        return len(self.changed)


@dataclass(frozen=True)
class Mechanism:
    """Phase II's answer for one respondent, indexed by sensitive value."""

    perturbations: tuple[Perturbation | None, ...]
    """``None`` where no perturbation reaching the value was found."""
    target: np.ndarray
    """The target actually aimed at: renormalised over the reachable values."""
    probabilities: np.ndarray
    expected_changes: float
    kl: float

    def sample(self, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """The answers to publish: ``x + r_i`` with ``i`` drawn from ``probabilities``."""
        value = np.random.default_rng(rng).choice(len(self.probabilities), p=self.probabilities)
        chosen = self.perturbations[value]
        assert chosen is not None, "a value without a perturbation has probability zero"
        return chosen.codes.copy()


def population_share(sensitive: Sequence[int] | np.ndarray, n_values: int) -> np.ndarray:
    """Each sensitive value's share of a population: the default target distribution."""
    labels = np.asarray(sensitive)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError("the population must be a non-empty 1-D array of sensitive values")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= n_values:
        raise ValueError(f"sensitive values must be integers in 0 .. {n_values - 1}")
    return np.bincount(labels, minlength=n_values) / labels.size


def phase_one(
    x: Sequence[int] | np.ndarray,
    predict_proba: PredictProba,
    cardinalities: Sequence[int],
    policy: str = "both",
    exact_max_changes: int = 2,
) -> tuple[Perturbation | None, ...]:
    """For each sensitive value, the perturbation with fewest changed answers that makes the
    classifier predict it (among those of equal size: the highest probability for it)."""
    codes = _check_codes(x, cardinalities)
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if exact_max_changes < 0:
        raise ValueError("exact_max_changes must be >= 0")
    options = _replacement_options(codes, cardinalities, policy)
    n_values = _scores(predict_proba, codes[None, :]).shape[1]
    found: list[Perturbation | None] = [None] * n_values
    for size in range(min(exact_max_changes, len(options)) + 1):
        _exact_layer(codes, options, size, predict_proba, found)
        if all(found):
            return tuple(found)
    for value in range(n_values):
        if found[value] is None:
            found[value] = _greedy(codes, options, value, predict_proba)
    return tuple(found)


def phase_two(target: np.ndarray, n_changes: np.ndarray, budget: float) -> np.ndarray:
    """The distribution ``M`` minimising ``KL(target || M)`` with ``sum M_i n_i <= budget``.

    Stationarity gives ``M_i = p_i / (nu + mu n_i)``; with the budget binding,
    ``nu = 1 - mu * budget``, and ``mu`` solves a monotone 1-D equation on
    ``[0, 1 / budget]``. At ``mu = 1 / budget`` (``nu = 0``) the mass the target leaves over
    goes to a zero-change candidate outside the target's support. With no budget and a
    target beyond the zero-change candidates every M has infinite KL: all mass goes to the
    unperturbed answers. ``n_changes`` must be finite and include a zero (the unperturbed
    answers); ``target`` must sum to one.
    """
    p = np.asarray(target, dtype=np.float64)
    n = np.asarray(n_changes, dtype=np.float64)
    if p.shape != n.shape or p.ndim != 1:
        raise ValueError("target and n_changes must be 1-D arrays of the same length")
    if not np.all(np.isfinite(n)) or n.min() < 0 or not np.any(n == 0):
        raise ValueError("n_changes must be finite, non-negative and include a zero")
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"budget must be a finite number >= 0, got {budget}")
    if p @ n <= budget:
        return p.copy()
    zero = int(np.flatnonzero(n == 0)[0])
    if budget == 0:
        return np.eye(len(p))[zero]
    support = p > 0
    excess = n[support] / budget - 1.0

    def slope(t: float) -> float:
        """Increasing in t = mu * budget; negative at 0 since the target overspends."""
        return float(np.sum(-p[support] * excess / (1.0 + t * excess)))

    if np.all(n[support] > 0) and slope(1.0) <= 0:
        m = np.zeros_like(p)
        m[support] = p[support] * budget / n[support]
        m[zero] += 1.0 - m.sum()
        return m
    top = np.nextafter(1.0, 0.0)
    t = brentq(slope, 0.0, top, xtol=1e-15, rtol=4 * np.finfo(float).eps) if slope(top) > 0 else top
    m = np.zeros_like(p)
    m[support] = p[support] / (1.0 + t * excess)
    return _within_budget(m / m.sum(), n, budget, zero)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """``KL(p || q)`` in nats (infinite when q misses part of p's support)."""
    support = p > 0
    if np.any(q[support] <= 0):
        return float("inf")
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


class AttriGuard:
    """A data publisher's AttriGuard for one classifier, policy, budget and target."""

    def __init__(
        self,
        predict_proba: PredictProba,
        cardinalities: Sequence[int],
        budget: float,
        *,
        policy: str = "both",
        target: Sequence[float] | np.ndarray | None = None,
        population: Sequence[int] | np.ndarray | None = None,
        exact_max_changes: int = 2,
    ) -> None:
        """``target`` over the sensitive values, or else each value's share of
        ``population`` (the sensitive values of, e.g., the training respondents)."""
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if not np.isfinite(budget) or budget < 0:
            raise ValueError(f"budget must be a finite number >= 0, got {budget}")
        if (target is None) == (population is None):
            raise ValueError("give exactly one of target and population")
        self.predict_proba = predict_proba
        self.cardinalities = tuple(int(k) for k in cardinalities)
        self.budget = float(budget)
        self.policy = policy
        self.exact_max_changes = exact_max_changes
        self._target = None if target is None else _check_target(target)
        self._population = population

    def target(self, n_values: int) -> np.ndarray:
        """The target over ``n_values`` sensitive values, before removing unreachable ones."""
        if self._target is None:
            return population_share(self._population, n_values)
        if len(self._target) != n_values:
            raise ValueError(f"target has {len(self._target)} values, the classifier {n_values}")
        return self._target

    def mechanism(self, x: Sequence[int] | np.ndarray) -> Mechanism:
        perturbations = phase_one(x, self.predict_proba, self.cardinalities, self.policy, self.exact_max_changes)
        reachable = np.array([r is not None for r in perturbations])
        target = np.where(reachable, self.target(len(perturbations)), 0.0)
        if target.sum() == 0:
            raise ValueError("the target puts no mass on any value reachable for this respondent")
        target = target / target.sum()
        n_changes = np.array([r.n_changes if r is not None else 0 for r in perturbations], dtype=np.float64)
        m = np.zeros(len(perturbations))
        m[reachable] = phase_two(target[reachable], n_changes[reachable], self.budget)
        return Mechanism(perturbations, target, m, float(m @ n_changes), kl_divergence(target, m))

    def release(self, x: Sequence[int] | np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """The answers to publish: ``x + r_i`` with ``i`` drawn from the mechanism."""
        return self.mechanism(x).sample(rng)


def _check_codes(x: Sequence[int] | np.ndarray, cardinalities: Sequence[int]) -> np.ndarray:
    codes = np.asarray(x)
    sizes = np.asarray(cardinalities)
    if codes.ndim != 1 or codes.shape != sizes.shape:
        raise ValueError(f"answers must be a 1-D vector of {len(sizes)} codes, got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError("answers must be integer category codes")
    if np.any(sizes < 1):
        raise ValueError("every answer needs at least one valid code")
    if np.any((codes < MISSING) | (codes >= sizes)):
        raise ValueError(f"answer codes must be {MISSING} (missing) or in 0 .. cardinality - 1")
    return codes.astype(np.int64)


def _check_target(target: Sequence[float] | np.ndarray) -> np.ndarray:
    p = np.asarray(target, dtype=np.float64)
    if p.ndim != 1 or not np.all(np.isfinite(p)) or np.any(p < 0) or abs(p.sum() - 1) > 1e-9:
        raise ValueError("target must be a 1-D probability vector (non-negative, summing to 1)")
    return p


def _replacement_options(codes: np.ndarray, cardinalities: Sequence[int], policy: str) -> dict[int, list[int]]:
    """For each answer the policy lets us change, the codes it may take instead."""
    options = {}
    for j, (code, size) in enumerate(zip(codes, cardinalities, strict=True)):
        answered = code != MISSING
        if (answered and policy in ("modify", "both")) or (not answered and policy in ("add", "both")):
            choices = [c for c in range(size) if c != code]
            if choices:
                options[j] = choices
    return options


def _scores(predict_proba: PredictProba, batch: np.ndarray) -> np.ndarray:
    scores = np.asarray(predict_proba(batch), dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != len(batch) or scores.shape[1] == 0:
        raise ValueError(f"predict_proba must return an (n, n_values) array, got shape {scores.shape}")
    return scores


def _layer(
    codes: np.ndarray, options: dict[int, list[int]], size: int
) -> Iterator[tuple[np.ndarray, list[tuple[int, ...]]]]:
    """Every perturbation of exactly ``size`` answers, in batches of about ``BATCH_SIZE`` answer
    vectors (one block per set of changed answers), with each row's changed positions."""
    blocks: list[np.ndarray] = []
    changed: list[tuple[int, ...]] = []
    for positions in itertools.combinations(sorted(options), size):
        values = np.array(list(itertools.product(*(options[j] for j in positions))), dtype=np.int64)
        block = np.repeat(codes[None, :], len(values), axis=0)
        block[:, list(positions)] = values.reshape(len(values), size)
        blocks.append(block)
        changed += [positions] * len(values)
        if len(changed) >= BATCH_SIZE:
            yield np.concatenate(blocks), changed
            blocks, changed = [], []
    if changed:
        yield np.concatenate(blocks), changed


def _exact_layer(
    codes: np.ndarray,
    options: dict[int, list[int]],
    size: int,
    predict_proba: PredictProba,
    found: list[Perturbation | None],
) -> None:
    """Score every perturbation of exactly ``size`` answers; fill values first reached here."""
    best: dict[int, tuple[float, Perturbation]] = {}
    for batch, changed in _layer(codes, options, size):
        scores = _scores(predict_proba, batch)
        predicted = scores.argmax(axis=1)
        for value in map(int, np.unique(predicted)):
            if found[value] is not None:
                continue
            rows = np.flatnonzero(predicted == value)
            row = int(rows[np.argmax(scores[rows, value])])
            if value not in best or scores[row, value] > best[value][0]:
                best[value] = (scores[row, value], Perturbation(value, batch[row].copy(), changed[row], exact=True))
    for value, (_, perturbation) in best.items():
        found[value] = perturbation


def _greedy(
    codes: np.ndarray, options: dict[int, list[int]], value: int, predict_proba: PredictProba
) -> Perturbation | None:
    """Change one more answer at a time, each time the change that most raises the margin of
    ``value`` over the strongest other value, until the classifier predicts it."""
    current = codes.copy()
    changed: list[int] = []
    while len(changed) < len(options):
        moves = [(j, c) for j in options if j not in changed for c in options[j]]
        batch = np.repeat(current[None, :], len(moves), axis=0)
        for row, (j, c) in enumerate(moves):
            batch[row, j] = c
        scores = _scores(predict_proba, batch)
        hits = np.flatnonzero(scores.argmax(axis=1) == value)
        if hits.size:
            row = int(hits[np.argmax(scores[hits, value])])
            return Perturbation(value, batch[row], tuple(sorted([*changed, moves[row][0]])), exact=False)
        others = np.delete(scores, value, axis=1).max(axis=1)
        row = int(np.argmax(scores[:, value] - others))
        current = batch[row]
        changed.append(moves[row][0])
    return None


def _within_budget(m: np.ndarray, n_changes: np.ndarray, budget: float, zero: int) -> np.ndarray:
    """Move the rounding error's overspend, if any, onto the zero-change candidate."""
    spend = float(m @ n_changes)
    if spend <= budget:
        return m
    keep = budget / spend
    shifted = m * keep
    shifted[zero] += 1.0 - keep
    return shifted
