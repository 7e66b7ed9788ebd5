"""Decoder inversion beats the mean image; defence detection and alignment."""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from attack_clients.faces.decoder import DecoderInversion, augment, identity_folds, run_decoder_attack
from attack_clients.faces.defense_profile import DefenseProfile, detect
from attack_clients.oracle import LocalOracle


def mean_ssim(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> float:
    return float(
        np.mean(
            [structural_similarity(x.reshape(shape), y.reshape(shape), data_range=1) for x, y in zip(a, b, strict=True)]
        )
    )


def test_decoder_beats_mean_image_on_unseen_victims(digits_target) -> None:
    data = digits_target.data
    subset = np.arange(len(data.labels)) < 600
    oracle = LocalOracle(digits_target.model.predict_proba, data.classes)
    outcome = run_decoder_attack(
        oracle,
        data.images[subset],
        data.labels[subset],
        digits_target.training[subset],
        (8, 8),
        split="heldout",
        copies=1,
        decoder=DecoderInversion(epochs=60, components=40),
    )
    victims = data.images[subset][outcome.victims]
    assert oracle.stats.rows == outcome.auxiliary_rows + outcome.victim_rows
    assert mean_ssim(outcome.reconstructions, victims, (8, 8)) > mean_ssim(outcome.baseline, victims, (8, 8)) + 0.1


def test_identity_folds_are_disjoint_and_cover_everyone() -> None:
    folds = identity_folds(40, 2, seed=3)
    assert len(np.intersect1d(*folds)) == 0
    assert sorted(np.concatenate(folds).tolist()) == list(range(40))


def test_disjoint_split_never_trains_on_victim_identities(digits_target) -> None:
    data = digits_target.data
    seen: list[np.ndarray] = []

    class Recorder(LocalOracle):
        def predict_proba(self, X):
            seen.append(np.asarray(X))
            return super().predict_proba(X)

    subset = np.arange(len(data.labels)) < 300
    images, labels = data.images[subset], data.labels[subset]
    oracle = Recorder(digits_target.model.predict_proba, data.classes)
    run_decoder_attack(
        oracle,
        images,
        labels,
        digits_target.training[subset],
        (8, 8),
        copies=0,
        decoder=DecoderInversion(epochs=2, components=10),
    )
    first_fold = identity_folds(10, 2, seed=0)[0]
    auxiliary = seen[0]
    auxiliary_labels = [labels[np.flatnonzero((images == row).all(axis=1))[0]] for row in auxiliary]
    assert not np.isin(auxiliary_labels, first_fold).any()


def test_detects_rounding_and_top_k() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=50)
    assert detect(p) == DefenseProfile()
    assert detect(np.round(p / 0.05) * 0.05).rounding == 0.05
    top3 = DefenseProfile(top_k=3).apply(p)
    assert detect(top3).top_k == 3
    assert detect(np.eye(10)[rng.integers(0, 10, 50)]).top_k == 1
    assert DefenseProfile(rounding=0.05).floor == 0.025
    aligned = DefenseProfile(rounding=0.01, top_k=2).apply(p)
    np.testing.assert_allclose(DefenseProfile(rounding=0.01, top_k=2).apply(aligned), aligned)


def test_augment_adds_jittered_copies_in_range() -> None:
    images = np.random.default_rng(1).random((4, 64))
    out = augment(images, (8, 8), copies=2)
    assert out.shape == (12, 64)
    np.testing.assert_array_equal(out[:4], images)
    assert out.min() >= 0 and out.max() <= 1
