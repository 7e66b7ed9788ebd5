"""The utility report: the honest user's cost of a defence, next to the clean numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from defenses import parse_spec
from defenses.utility import LOG_LOSS_FLOOR, utility_report

ROWS = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
TRUTH = np.array([0, 0, 0])
CLEAN_LOG_LOSS = float(np.mean(-np.log([0.8, 0.3, 0.6])))
CLEAN_BRIER = float(np.mean([2 * 0.2**2, 2 * 0.7**2, 2 * 0.4**2]))


def test_no_defense_matches_the_clean_numbers() -> None:
    report = utility_report(ROWS, TRUTH, parse_spec([]))
    assert report["n"] == 3
    assert report["accuracy"] == report["clean_accuracy"] == pytest.approx(2 / 3)
    assert report["log_loss"] == report["clean_log_loss"] == pytest.approx(CLEAN_LOG_LOSS)
    assert report["brier"] == report["clean_brier"] == pytest.approx(CLEAN_BRIER)
    assert report["mean_abs_change"] == 0.0
    assert report["label_change_rate"] == 0.0
    assert report["log_loss_floor"] == LOG_LOSS_FLOOR
    json.dumps(report, allow_nan=False)


def test_label_only_log_loss_is_floored_not_infinite() -> None:
    report = utility_report(ROWS, TRUTH, parse_spec([{"label_only": True}]))
    wrong_row_loss = -np.log(LOG_LOSS_FLOOR / (1 + LOG_LOSS_FLOOR))
    right_row_loss = -np.log(1 / (1 + LOG_LOSS_FLOOR))
    assert report["log_loss"] == pytest.approx((wrong_row_loss + 2 * right_row_loss) / 3)
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["brier"] == pytest.approx(2 / 3)
    assert report["mean_abs_change"] == pytest.approx(np.mean([0.2, 0.2, 0.3, 0.3, 0.4, 0.4]))


def test_rounding_change_is_measured() -> None:
    report = utility_report(ROWS, TRUTH, parse_spec([{"round": 0.5}]))
    assert report["mean_abs_change"] == pytest.approx(np.mean([0.2, 0.2, 0.2, 0.2, 0.1, 0.1]))
    assert report["label_change_rate"] == 0.0


def test_noise_report_is_reproducible_and_counts_label_changes() -> None:
    rows = np.tile([[0.55, 0.45]], (400, 1))
    truth = np.zeros(400, dtype=int)
    pipeline = parse_spec([{"noise": "laplace", "scale": 0.3}])
    report = utility_report(rows, truth, pipeline)
    assert report == utility_report(rows, truth, pipeline)
    assert report != utility_report(rows, truth, pipeline, seed=1)
    assert 0 < report["label_change_rate"] < 1
    assert report["accuracy"] == pytest.approx(1 - report["label_change_rate"])
    assert report["clean_accuracy"] == 1.0


def test_deterministic_noise_uses_the_inputs() -> None:
    pipeline = parse_spec([{"noise": "gaussian", "scale": 0.1, "deterministic": True}])
    report = utility_report(ROWS, TRUTH, pipeline, inputs=np.eye(3))
    assert report["mean_abs_change"] > 0
    with pytest.raises(ValueError, match="needs the model inputs"):
        utility_report(ROWS, TRUTH, pipeline)


@pytest.mark.parametrize(
    ("truth", "message"),
    [
        (np.array([0, 1]), "3 integer class indices"),
        (np.array([0.0, 1.0, 0.0]), "integer"),
        (np.array([0, 2, 0]), "[0, 2)"),
    ],
)
def test_truth_is_validated(truth: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        utility_report(ROWS, truth, parse_spec([]))
    assert message in str(caught.value)
