"""The declarative spec: round trips, and a helpful DefenseSpecError for every bad step."""

from __future__ import annotations

import json

import numpy as np
import pytest
from defense_strategies import FAST, specs
from hypothesis import given

from defenses import DefenseSpecError, Pipeline, parse_spec


@FAST
@given(spec=specs)
def test_round_trip_through_lists_and_json(spec: list) -> None:
    pipeline = parse_spec(spec)
    canonical = pipeline.to_spec()
    assert parse_spec(canonical) == pipeline
    assert parse_spec(json.dumps(canonical)) == pipeline
    assert parse_spec(canonical).to_spec() == canonical
    assert len(pipeline) == len(spec)


def test_canonical_form() -> None:
    pipeline = parse_spec(
        '[{"round": 1}, {"noise": "gaussian", "scale": 0, "deterministic": false},'
        ' {"noise": "laplace", "scale": 0.1, "deterministic": true}, {"top_k": 3}, {"label_only": true},'
        ' {"cutoff": 0.9}, {"reverse_sigmoid": {"gamma": 2, "beta": 0.5}}]'
    )
    assert pipeline.to_spec() == [
        {"round": 1.0},
        {"noise": "gaussian", "scale": 0.0},
        {"noise": "laplace", "scale": 0.1, "deterministic": True},
        {"top_k": 3},
        {"label_only": True},
        {"cutoff": 0.9},
        {"reverse_sigmoid": {"beta": 0.5, "gamma": 2.0}},
    ]
    assert isinstance(pipeline.to_spec()[0]["round"], float)


def test_empty_spec_is_no_defense() -> None:
    rows = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    for spec in ([], "[]", ()):
        pipeline = parse_spec(spec)
        assert pipeline == Pipeline()
        assert not pipeline.changes_label
        out = pipeline.apply(rows)
        np.testing.assert_array_equal(out.probabilities, rows)
        assert out.labels.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("step", "changes"),
    [
        ({"round": 0.01}, False),
        ({"noise": "gaussian", "scale": 0.1}, True),
        ({"noise": "laplace", "scale": 0.1, "deterministic": True}, True),
        ({"top_k": 1}, False),
        ({"label_only": True}, False),
        ({"cutoff": 0.5}, False),
        ({"reverse_sigmoid": {"beta": 0.5, "gamma": 1.0}}, True),
    ],
)
def test_changes_label(step: dict, changes: bool) -> None:
    assert parse_spec([step]).changes_label is changes
    assert parse_spec([{"round": 0.1}, step]).changes_label is changes


def test_the_message_names_step_and_problem() -> None:
    with pytest.raises(DefenseSpecError) as caught:
        parse_spec([{"round": 0.01}, {"round": -0.1}])
    assert str(caught.value) == "step 1: round must be a number in [1e-12, 1], got -0.1"
    assert caught.value.step == 1
    assert isinstance(caught.value, ValueError)


NAN, INF = float("nan"), float("inf")
BAD_STEPS = [
    ({"round": -0.1}, "round must be a number in [1e-12, 1], got -0.1"),
    ({"round": 0}, "round must be a number in [1e-12, 1], got 0"),
    ({"round": 1.5}, "got 1.5"),
    ({"round": True}, "round must be a number in [1e-12, 1], got true"),
    ({"round": "0.1"}, 'got "0.1"'),
    ({"round": None}, "got null"),
    ({"round": NAN}, "got NaN"),
    ({"round": INF}, "got Infinity"),
    ({"noise": "uniform", "scale": 0.1}, 'noise must be "gaussian" or "laplace", got "uniform"'),
    ({"noise": True, "scale": 0.1}, 'noise must be "gaussian" or "laplace", got true'),
    ({"noise": "gaussian"}, 'noise needs "scale" (a number in [0, 1])'),
    ({"noise": "gaussian", "scale": -0.1}, "scale must be a number in [0, 1], got -0.1"),
    ({"noise": "laplace", "scale": 2}, "scale must be a number in [0, 1], got 2"),
    ({"noise": "laplace", "scale": False}, "scale must be a number in [0, 1], got false"),
    ({"noise": "laplace", "scale": NAN}, "got NaN"),
    ({"noise": "laplace", "scale": 0.1, "deterministic": "yes"}, 'deterministic must be true or false, got "yes"'),
    ({"noise": "laplace", "scale": 0.1, "deterministic": 1}, "deterministic must be true or false, got 1"),
    ({"noise": "gaussian", "scale": 0.1, "sclae": 1}, 'unknown key "sclae" (did you mean "scale"?)'),
    ({"top_k": 0}, "top_k must be an integer >= 1, got 0"),
    ({"top_k": 1.5}, "top_k must be an integer >= 1, got 1.5"),
    ({"top_k": 2.0}, "top_k must be an integer >= 1, got 2.0"),
    ({"top_k": True}, "top_k must be an integer >= 1, got true"),
    ({"top_k": "2"}, 'got "2"'),
    ({"label_only": False}, "label_only must be true (leave the step out to disable it), got false"),
    ({"label_only": 1}, "label_only must be true"),
    ({"cutoff": 0}, "cutoff must be a number in (0, 1], got 0"),
    ({"cutoff": 1.1}, "cutoff must be a number in (0, 1], got 1.1"),
    ({"cutoff": -INF}, "got -Infinity"),
    ({"reverse_sigmoid": 0.5}, 'reverse_sigmoid must be an object {"beta": b, "gamma": g}, got 0.5'),
    ({"reverse_sigmoid": {"beta": 1}}, 'reverse_sigmoid needs "gamma"'),
    ({"reverse_sigmoid": {"beta": 0, "gamma": 1}}, "reverse_sigmoid beta must be a number > 0, got 0"),
    ({"reverse_sigmoid": {"beta": 1, "gamma": -1}}, "reverse_sigmoid gamma must be a number > 0, got -1"),
    ({"reverse_sigmoid": {"beta": True, "gamma": 1}}, "beta must be a number > 0, got true"),
    ({"reverse_sigmoid": {"beta": 1, "gamma": INF}}, "gamma must be a number > 0, got Infinity"),
    ({"reverse_sigmoid": {"beta": 1, "gamma": 1, "alpha": 2}}, 'unknown key "alpha"'),
    ({}, "is empty; expected one of round, noise, top_k, label_only, cutoff, reverse_sigmoid"),
    ({"round": 0.1, "top_k": 2}, "names more than one defence (round, top_k); use one step per defence"),
    ({"round": 0.1, "scale": 0.1}, 'round has unknown key "scale"'),
    ({"rounding": 0.1}, 'unknown defence "rounding" (did you mean "round"?)'),
    ({"scale": 0.1}, '"scale" belongs to a noise step'),
    (0.1, 'must be an object such as {"round": 0.01}, got 0.1'),
    ("round", 'got "round"'),
    ([{"round": 0.1}], "must be an object"),
]


@pytest.mark.parametrize(("step", "message"), BAD_STEPS)
def test_bad_step_is_rejected_with_a_helpful_message(step: object, message: str) -> None:
    with pytest.raises(DefenseSpecError) as caught:
        parse_spec([{"round": 0.05}, step])
    assert str(caught.value).startswith("step 1: ")
    assert message in str(caught.value)
    assert caught.value.step == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"round": 0.1}, "spec must be a list of steps ([] for no defence), got {"),
        (None, "spec must be a list of steps ([] for no defence), got null"),
        ("not json", "spec is not valid JSON"),
        ('{"round": 0.1}', "spec must be a list of steps"),
        ('[{"round": 0.1, "round": 0.2}]', 'spec repeats the key "round"'),
        ('[{"round": NaN}]', "step 0: round must be a number in [1e-12, 1], got NaN"),
    ],
)
def test_bad_spec_is_rejected_with_a_helpful_message(spec: object, message: str) -> None:
    with pytest.raises(DefenseSpecError) as caught:
        parse_spec(spec)
    assert message in str(caught.value)


def test_numpy_numbers_are_accepted() -> None:
    pipeline = parse_spec([{"round": np.float32(0.5)}, {"top_k": np.int64(2)}])
    assert pipeline.to_spec() == [{"round": 0.5}, {"top_k": 2}]
    json.dumps(pipeline.to_spec())
