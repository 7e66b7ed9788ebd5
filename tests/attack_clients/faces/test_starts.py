"""MI-Face's starting points: the blank image, and the mean face that leaves the victim out."""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.datasets import FaceData
from attack_clients.faces.starts import blank_starts, mean_face_starts


def tiny_faces() -> FaceData:
    images = np.array([[0.0, 1.0], [0.2, 0.8], [1.0, 0.0], [0.6, 0.6]])
    return FaceData(images, np.array([0, 0, 1, 2]), ["a", "b", "c"], (1, 2), "test")


def test_mean_face_leaves_the_victim_out() -> None:
    starts = mean_face_starts(tiny_faces(), [0, 1, 2])
    expected = [[0.8, 0.3], [0.8 / 3, 2.4 / 3], [0.4, 0.6]]
    np.testing.assert_allclose(starts, expected, rtol=1e-6)
    assert starts.dtype == np.float32


def test_one_identity_has_no_one_else() -> None:
    data = FaceData(np.ones((2, 2)), np.array([0, 0]), ["a"], (1, 2), "test")
    with pytest.raises(ValueError, match="other identity"):
        mean_face_starts(data, [0])


def test_blank_is_algorithm_ones_x0() -> None:
    assert not blank_starts(3, 5).any() and blank_starts(3, 5).shape == (3, 5)
