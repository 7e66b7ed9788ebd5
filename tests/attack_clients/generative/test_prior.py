"""The prior learns only from people who are not the victims, is trained once, and makes images at the target's size."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from attack_clients.datasets import load_digits
from attack_clients.faces.decoder import identity_folds
from attack_clients.generative import gan, vae
from attack_clients.generative.diffaugment import cutout, diff_augment, translation
from attack_clients.generative.folds import fold_of, prior_folds
from attack_clients.generative.prior import KINDS, auxiliary_photos, prior_for


def test_folds_are_the_decoders_and_split_victims_from_auxiliary_people() -> None:
    folds = prior_folds(40)
    assert [f.victims.tolist() for f in folds] == [g.tolist() for g in identity_folds(40, 2, 0)]
    for fold in folds:
        assert not set(fold.victims) & set(fold.auxiliary)
        assert sorted([*fold.victims, *fold.auxiliary]) == list(range(40))
    assert fold_of(int(folds[1].victims[0]), folds) is folds[1]


def test_auxiliary_photos_hold_no_photo_of_an_excluded_person() -> None:
    data = load_digits()
    images, identities = auxiliary_photos(data, [0, 3])
    assert set(identities) == set(range(10)) - {0, 3}
    assert len(images) == np.isin(data.labels, [0, 3], invert=True).sum()


@pytest.mark.parametrize("kind", ["vae", "gan"])
def test_prior_is_trained_once_on_the_other_people_and_cached(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLAAS_DATA_DIR", raising=False)
    seen: list[np.ndarray] = []
    module = importlib.import_module(KINDS[kind])
    train = module.train_prior

    def recording(images, *args):
        seen.append(images)
        return train(images, *args)

    monkeypatch.setattr(module, "train_prior", recording)
    prior = prior_for([1, 2, 5], (8, 8), tmp_path, size="reduced", kind=kind)
    victims = load_digits().images[np.isin(load_digits().labels, [1, 2, 5])]
    assert len(seen) == 1 and not (seen[0][:, None] == victims[None]).all(axis=2).any()
    assert prior.description["excluded_identities"] == [1, 2, 5]
    assert prior.description["auxiliary_identities"] == [0, 3, 4, 6, 7, 8, 9]

    assert prior.description["face_share"]["share"] is None  # digits: no face to detect
    again = prior_for([1, 2, 5], (8, 8), tmp_path, size="reduced", kind=kind)
    assert len(seen) == 1  # read from the cache
    z = prior.sample_latents(6, np.random.default_rng(0))
    images = prior.generate(z)
    assert images.shape == (6, 64) and images.dtype == np.float64
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(images, again.generate(z))
    assert images.std(axis=0).max() > 0.01  # different latents, different images
    discriminator = prior.discriminator_module()
    if discriminator is not None:
        assert discriminator(torch.as_tensor(images, dtype=torch.float32)).shape == (6,)

    prior_for([1, 2], (8, 8), tmp_path, size="reduced", kind=kind)
    assert len(seen) == 2  # other victims, other prior


def test_generators_resize_their_output_to_the_targets_resolution() -> None:
    generator = gan.Generator(latent_dim=4, width=2, side=gan.canvas_side((112, 92)), image_shape=(112, 92)).eval()
    assert gan.canvas_side((112, 92)) == 64 and gan.canvas_side((8, 8)) == 8
    assert generator(torch.zeros(3, 4)).shape == (3, 112 * 92)
    decoder = vae.Decoder(vae.SETTINGS["reduced"], (112, 92))
    assert decoder.working == (56, 46) and vae.working_shape((8, 8)) == (8, 8)
    assert decoder(torch.zeros(3, vae.SETTINGS["reduced"].latent_dim)).shape == (3, 112 * 92)


def test_diff_augment_keeps_shape_passes_gradients_and_moves_pixels() -> None:
    draw = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 16, 16, requires_grad=True)
    out = diff_augment(x, draw)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    blank = torch.ones(8, 1, 16, 16)
    assert (cutout(blank, generator=draw) == 0).sum(dim=(1, 2, 3)).min() > 0
    moved = translation(torch.arange(256.0).reshape(1, 1, 16, 16).expand(8, 1, 16, 16), generator=draw)
    assert not torch.equal(moved, torch.arange(256.0).reshape(1, 1, 16, 16).expand(8, 1, 16, 16))


def test_vae_latents_are_the_photos_codes_gaussian_narrowed_by_the_temperature() -> None:
    settings = vae.SETTINGS["reduced"]
    torch.manual_seed(0)
    decoder, encoder = vae.Decoder(settings, (8, 8)), vae.Encoder(settings, 64)
    photos = torch.as_tensor(load_digits().images[:300], dtype=torch.float32)
    vae.fit_latent_distribution(decoder, encoder, photos, temperature=0.5)
    with torch.no_grad():
        codes = encoder(photos)[0].double()
    torch.testing.assert_close(decoder.latent_mean.double(), codes.mean(dim=0), atol=1e-5, rtol=0)
    spread = (decoder.latent_scale @ decoder.latent_scale.T).double()
    torch.testing.assert_close(spread, 0.25 * torch.cov(codes.T), atol=1e-4, rtol=1e-3)
