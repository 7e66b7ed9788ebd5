"""The evaluator's face loader: PGM, Olivetti orientation, digits fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attack_clients.datasets import load_att, load_faces, read_pgm


def write_pgm(path: Path, pixels: np.ndarray) -> None:
    h, w = pixels.shape
    path.write_bytes(b"P5\n# comment\n%d %d\n255\n" % (w, h) + pixels.astype(np.uint8).tobytes())


def test_read_pgm_with_comment(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_pgm(tmp_path / "a.pgm", pixels)
    np.testing.assert_array_equal(read_pgm(tmp_path / "a.pgm"), pixels)


def test_att_layout_orders_people_and_images_numerically(tmp_path: Path) -> None:
    for person in (1, 2, 10):
        folder = tmp_path / "att_faces" / f"s{person}"
        folder.mkdir(parents=True)
        for image in (1, 2, 10):
            write_pgm(folder / f"{image}.pgm", np.full((112, 92), person * 10 + image))
    data = load_att(tmp_path)
    assert data.classes == ["s1", "s2", "s10"]
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert data.images[2, 0] == pytest.approx(20 / 255)
    assert data.image_shape == (112, 92)


def test_fallback_is_digits_without_data(monkeypatch) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    data = load_faces()
    assert data.source == "digits"
    assert data.images.max() <= 1.0
    with pytest.raises(FileNotFoundError):
        load_faces((64, 64))


def test_real_faces_are_upright(faces) -> None:
    """Hair and forehead above, chin below: rows differ more than the transpose would."""
    assert faces.images.shape == (400, 4096)
    mean = faces.images.mean(axis=0).reshape(64, 64)
    left_right = np.abs(mean - mean[:, ::-1]).mean()
    top_bottom = np.abs(mean - mean[::-1, :]).mean()
    assert left_right < top_bottom
