"""Loaders: the real data sets (when MLAAS_DATA_DIR is set) and the packaged fallbacks."""

from __future__ import annotations

import numpy as np
from skimage.transform import resize

from app.zoo import data
from app.zoo.splits import per_class_split


def test_att_faces_in_subject_order(real_data) -> None:
    faces = data.load_att_faces(real_data)
    assert faces.pixels.shape == (400, 92 * 112) and faces.pixels.dtype == np.float32
    assert 0.0 <= faces.pixels.min() and faces.pixels.max() <= 1.0
    assert faces.image_shape == (112, 92) and faces.classes[:2] == ["s1", "s2"] and len(faces.classes) == 40
    assert faces.labels.tolist() == [k for k in range(40) for _ in range(10)]
    first = data.read_pgm(real_data / "att_faces" / "s2" / "3.pgm")
    np.testing.assert_allclose(faces.pixels[12], first.reshape(-1) / 255.0, rtol=1e-6)


def test_olivetti_faces_are_upright_and_match_att_subjects(real_data) -> None:
    """The mean Olivetti face is mirror-symmetric left-right and like the AT&T face area, upright."""
    att = data.load_att_faces(real_data)
    olivetti = data.load_olivetti_faces(real_data)
    assert olivetti.pixels.shape == (400, 4096) and olivetti.image_shape == (64, 64)
    assert olivetti.classes == att.classes and (olivetti.labels == att.labels).all()

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])

    mean = olivetti.pixels.mean(axis=0).reshape(64, 64)
    att_face = resize(att.pixels.mean(axis=0).reshape(112, 92)[25:105, 14:78], (64, 64))
    assert corr(mean, np.fliplr(mean)) > 0.8 > 0.3 > corr(mean.T, np.fliplr(mean.T))
    assert corr(mean, att_face) > 0.6
    assert corr(mean, att_face) > max(corr(mean.T, att_face), corr(np.flipud(mean), att_face)) + 0.15


def test_steak_survey_rows_and_fields(real_data) -> None:
    steak = data.load_steak(real_data)
    assert len(steak.table) == 430
    assert "RespondentID" not in steak.table.columns and data.STEAK_LOTTERY in steak.table.columns
    assert steak.table[steak.sensitive].value_counts().to_dict().keys() == {"Yes", "No"}
    assert steak.table[steak.objective].value_counts().sum() == 430


def test_gss_rows_and_fields(real_data) -> None:
    gss = data.load_gss(real_data)
    assert len(gss.table) == 7042
    assert not {"id", "wtssall", "year", "marital"} & set(gss.table.columns)
    assert gss.table["hapmar"].value_counts().to_dict() == {
        "VERY HAPPY": 4391,
        "PRETTY HAPPY": 2449,
        "NOT TOO HAPPY": 202,
    }


def test_packaged_fallbacks() -> None:
    digits = data.load_digits_images()
    assert digits.pixels.shape == (1797, 64) and digits.pixels.max() == 1.0 and digits.image_shape == (8, 8)
    fair = data.load_fair()
    assert len(fair.table) == 6366 and set(fair.table["had_affair"]) == {"yes", "no"}
    assert "affairs" not in fair.table.columns and sorted(set(fair.table["rate_marriage"])) == list("12345")
    assert data.package_file("sklearn", "datasets/data/digits.csv.gz").is_file()


def test_per_class_split_is_seeded_disjoint_and_stratified() -> None:
    labels = np.repeat(np.arange(40), 10)
    train, held = per_class_split(labels, 0.7, seed=0)
    assert len(train) == 280 and len(held) == 120 and not set(train) & set(held)
    assert (np.bincount(labels[train]) == 7).all()
    again, _ = per_class_split(labels, 0.7, seed=0)
    other, _ = per_class_split(labels, 0.7, seed=1)
    assert (train == again).all() and (train != other).any()
    train, held = per_class_split(np.array([0, 0, 0, 1, 1, 2]), 0.5, seed=0)
    assert np.bincount(np.array([0, 0, 0, 1, 1, 2])[held], minlength=3).tolist() == [1, 1, 0]
