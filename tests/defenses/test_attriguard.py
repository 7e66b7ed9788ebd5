"""AttriGuard: phase I's minimum-change perturbations (checked against brute force on a
hand-made tree), its noise policies, phase II's budget and optimality, and sampling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import minimize

from defenses.attriguard import (
    MISSING,
    AttriGuard,
    kl_divergence,
    phase_one,
    phase_two,
    population_share,
)

CARDINALITIES = (2, 3, 3, 2)
N_VALUES = 3


def tree_proba(codes: np.ndarray) -> np.ndarray:
    """A decision tree over four categorical answers (-1 = unanswered) predicting a
    three-valued sensitive attribute; its leaves have different confidences."""
    a, b, c, d = np.asarray(codes).T
    leaf = np.where(
        a == 0,
        np.where(b == 1, 1, np.where(d == 1, 2, 0)),
        np.where(c == 2, 2, np.where(d == MISSING, 0, 1)),
    )
    confidence = np.where(b == 2, 0.9, 0.6)
    proba = np.full((len(leaf), N_VALUES), 0.0)
    proba[np.arange(len(leaf)), leaf] = confidence
    proba += (1 - confidence)[:, None] / N_VALUES
    return proba


def predicted(codes: np.ndarray) -> int:
    return int(tree_proba(codes[None, :]).argmax())


def allowed_codes(code: int, size: int, policy: str) -> list[int]:
    answered = code != MISSING
    if (answered and policy == "add") or (not answered and policy == "modify"):
        return [code]
    return [code, *(c for c in range(size) if c != code)]


def allowed_vectors(x: np.ndarray, policy: str) -> list[np.ndarray]:
    choices = [allowed_codes(code, size, policy) for code, size in zip(x, CARDINALITIES, strict=True)]
    return [np.array(candidate) for candidate in itertools.product(*choices)]


def brute_force_minimum(x: np.ndarray, policy: str) -> list[float]:
    """For each value, the fewest changed answers over every vector the policy allows."""
    best = [float("inf")] * N_VALUES
    for candidate in allowed_vectors(x, policy):
        value = predicted(candidate)
        best[value] = min(best[value], int(np.sum(candidate != x)))
    return best


def minimal_perturbations(x: np.ndarray, policy: str) -> list[list[np.ndarray]]:
    """For each value, every allowed vector reaching it with the fewest changes."""
    least = brute_force_minimum(x, policy)
    minimal: list[list[np.ndarray]] = [[] for _ in range(N_VALUES)]
    for candidate in allowed_vectors(x, policy):
        value = predicted(candidate)
        if np.sum(candidate != x) == least[value]:
            minimal[value].append(candidate)
    return minimal


ALL_RESPONDENTS = [np.array(x) for x in itertools.product(*(range(MISSING, k) for k in CARDINALITIES))]


@pytest.mark.parametrize("policy", ["modify", "add", "both"])
def test_phase_one_is_the_brute_force_minimum_and_respects_the_policy(policy: str) -> None:
    for x in ALL_RESPONDENTS:
        expected = brute_force_minimum(x, policy)
        for value, perturbation in enumerate(phase_one(x, tree_proba, CARDINALITIES, policy, exact_max_changes=4)):
            if expected[value] == float("inf"):
                assert perturbation is None, (x, value)
                continue
            assert perturbation is not None, (x, value)
            assert perturbation.exact
            assert perturbation.n_changes == expected[value], (x, value)
            assert predicted(perturbation.codes) == value
            changed = np.flatnonzero(perturbation.codes != x)
            assert tuple(changed) == perturbation.changed
            assert np.all(perturbation.codes[changed] != MISSING), "no policy blanks an answer"
            if policy == "add":
                assert np.all(x[changed] == MISSING), "add touched an answered entry"
            if policy == "modify":
                assert np.all(x[changed] != MISSING), "modify filled a missing entry"


def test_phase_one_picks_the_most_confident_of_the_minimal_perturbations() -> None:
    undecided = 0
    for x in ALL_RESPONDENTS:
        minimal = minimal_perturbations(x, "both")
        for value, perturbation in enumerate(phase_one(x, tree_proba, CARDINALITIES, "both", exact_max_changes=4)):
            if perturbation is None:
                continue
            confidences = [tree_proba(c[None, :])[0, value] for c in minimal[value]]
            assert tree_proba(perturbation.codes[None, :])[0, value] == max(confidences)
            undecided += len(set(confidences)) > 1
    assert undecided > 0, "the tree must offer minimal perturbations of different confidence"


def test_beyond_the_cap_the_greedy_answer_is_valid_and_the_minimum_exceeds_the_cap() -> None:
    cap = 1
    beyond = 0
    for x in ALL_RESPONDENTS:
        expected = brute_force_minimum(x, "both")
        for value, perturbation in enumerate(phase_one(x, tree_proba, CARDINALITIES, "both", cap)):
            if perturbation is None:
                assert expected[value] > cap
                continue
            assert predicted(perturbation.codes) == value
            if perturbation.n_changes <= cap:
                assert perturbation.exact and perturbation.n_changes == expected[value]
            else:
                beyond += 1
                assert not perturbation.exact and expected[value] > cap
                assert perturbation.n_changes >= expected[value]
    assert beyond > 0, "the tree must have values needing more than one change"


def test_a_value_out_of_reach_gets_no_mass_and_the_target_is_renormalised() -> None:
    x = np.array([0, 0, 0, 0])  # fully answered: "add" cannot change anything
    guard = AttriGuard(tree_proba, CARDINALITIES, budget=1.0, policy="add", target=[0.2, 0.3, 0.5])
    mechanism = guard.mechanism(x)
    assert mechanism.perturbations[1] is None and mechanism.perturbations[2] is None
    np.testing.assert_allclose(mechanism.target, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(mechanism.probabilities, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(guard.release(x, rng=0), x)


def random_case(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    target = rng.dirichlet(np.ones(k))
    if rng.random() < 0.3:
        target[0] = 0.0
        target /= target.sum()
    n_changes = np.concatenate([[0], rng.integers(1, 6, size=k - 1)]).astype(float)
    return target, n_changes


def test_phase_two_keeps_the_expected_changes_within_budget() -> None:
    rng = np.random.default_rng(7)
    for _ in range(300):
        target, n_changes = random_case(rng, int(rng.integers(2, 6)))
        budget = float(rng.uniform(0, 4))
        m = phase_two(target, n_changes, budget)
        assert np.all(m >= 0) and abs(m.sum() - 1) < 1e-12
        assert m @ n_changes <= budget + 1e-9


def test_phase_two_returns_the_target_when_the_budget_allows_it() -> None:
    target, n_changes = np.array([0.5, 0.3, 0.2]), np.array([0.0, 1.0, 3.0])
    np.testing.assert_array_equal(phase_two(target, n_changes, budget=0.9), target)
    assert not np.allclose(phase_two(target, n_changes, budget=0.8), target)


def simplex_grid(k: int, steps: int) -> np.ndarray:
    points = [c for c in itertools.product(range(steps + 1), repeat=k - 1) if sum(c) <= steps]
    grid = np.array(points, dtype=float) / steps
    return np.column_stack([grid, 1 - grid.sum(axis=1)])


def best_on_grid(target: np.ndarray, n_changes: np.ndarray, budget: float, grid: np.ndarray) -> float:
    """The least KL(target || q) over the grid points q within budget."""
    feasible = grid[grid @ n_changes <= budget]
    support = target > 0
    with np.errstate(divide="ignore"):
        kl = np.sum(target[support] * (np.log(target[support]) - np.log(feasible[:, support])), axis=1)
    return float(kl.min())


def slsqp_minimum(target: np.ndarray, n_changes: np.ndarray, budget: float) -> float:
    """KL(target || M) minimised by scipy's SLSQP, from the uniform start, as an independent reference."""
    support = target > 0
    k = len(target)
    result = minimize(
        lambda q: -np.sum(target[support] * np.log(np.maximum(q[support], 1e-300))),
        np.full(k, 1 / k),
        method="SLSQP",
        bounds=[(0, 1)] * k,
        constraints=[
            {"type": "eq", "fun": lambda q: q.sum() - 1},
            {"type": "ineq", "fun": lambda q: budget - q @ n_changes},
        ],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return kl_divergence(target, np.clip(result.x, 0, None))


@pytest.mark.parametrize("k", [2, 3])
def test_phase_two_minimises_kl_against_a_grid(k: int) -> None:
    rng = np.random.default_rng(k)
    grid = simplex_grid(k, 2000 if k == 2 else 400)
    for _ in range(20):
        target, n_changes = random_case(rng, k)
        budget = float(rng.uniform(0.05, 1.0) * (target @ n_changes))
        ours = kl_divergence(target, phase_two(target, n_changes, budget))
        best = best_on_grid(target, n_changes, budget, grid)
        assert ours <= best + 1e-12, "a feasible grid point beats phase II"
        assert ours >= best - 0.05, "phase II far below every grid point: the grid is wrong"
        assert ours <= slsqp_minimum(target, n_changes, budget) + 1e-9, "a general-purpose solver does better"


def test_a_target_excluding_the_unperturbed_value_leaves_it_only_what_the_budget_cannot_buy() -> None:
    target, n_changes, budget = np.array([0.0, 0.5, 0.5]), np.array([0.0, 2.0, 4.0]), 0.6
    m = phase_two(target, n_changes, budget)
    np.testing.assert_allclose(m, [1 - 0.15 - 0.075, 0.15, 0.075])  # M_i = budget p_i / n_i
    assert kl_divergence(target, m) <= best_on_grid(target, n_changes, budget, simplex_grid(3, 400)) + 1e-12


def test_release_samples_the_mechanism_and_is_reproducible() -> None:
    x = np.array([0, 0, 0, MISSING])
    guard = AttriGuard(tree_proba, CARDINALITIES, budget=0.6, target=[0.3, 0.3, 0.4])
    mechanism = guard.mechanism(x)
    assert mechanism.expected_changes <= 0.6 + 1e-9
    draws = 3000
    rng = np.random.default_rng(11)
    counts = np.zeros(N_VALUES)
    for _ in range(draws):
        counts[predicted(guard.release(x, rng))] += 1
    spread = np.sqrt(draws * mechanism.probabilities * (1 - mechanism.probabilities))
    assert np.all(np.abs(counts - draws * mechanism.probabilities) <= 4.5 * spread + 1)
    np.testing.assert_array_equal(guard.release(x, rng=5), guard.release(x, rng=5))


def test_the_target_defaults_to_the_populations_share() -> None:
    population = np.array([0, 0, 1, 2, 2, 2, 1, 0])
    np.testing.assert_allclose(population_share(population, 3), [3 / 8, 2 / 8, 3 / 8])
    guard = AttriGuard(tree_proba, CARDINALITIES, budget=10.0, population=population)
    mechanism = guard.mechanism(np.array([0, 0, 0, MISSING]))
    np.testing.assert_allclose(mechanism.target, [3 / 8, 2 / 8, 3 / 8])
    np.testing.assert_allclose(mechanism.probabilities, mechanism.target)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"budget": 1.0},
        {"budget": 1.0, "target": [0.5, 0.5, 0.0], "population": [0, 1]},
        {"budget": -1.0, "target": [1.0, 0.0, 0.0]},
        {"budget": 1.0, "target": [0.5, 0.6, 0.0]},
        {"budget": 1.0, "target": [1.0, 0.0, 0.0], "policy": "delete"},
    ],
)
def test_bad_settings_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        AttriGuard(tree_proba, CARDINALITIES, **kwargs)


def test_bad_answers_are_refused() -> None:
    guard = AttriGuard(tree_proba, CARDINALITIES, budget=1.0, target=[1.0, 0.0, 0.0])
    for x in ([0, 0, 0], [0, 3, 0, 0], [0, 0, 0, -2], [0.0, 0.0, 0.0, 0.0]):
        with pytest.raises(ValueError):
            guard.mechanism(np.array(x))
