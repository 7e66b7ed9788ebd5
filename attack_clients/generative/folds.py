"""Which people a generative prior may learn from: identity-disjoint folds of the data set.

The adversary's prior never sees a victim's photo. The data set's identities are
split into ``FOLDS`` disjoint folds with the decoder attack's split
(``faces.decoder.identity_folds``, same seed); the victims of one fold are
attacked with a prior trained only on the photos of the other folds' people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attack_clients.faces.decoder import identity_folds

FOLDS = 2
FOLD_SEED = 0


@dataclass(frozen=True)
class Fold:
    """Victims (data-set identity indices) and the auxiliary people whose photos the prior learns from."""

    index: int
    victims: np.ndarray
    auxiliary: np.ndarray

    def as_dict(self) -> dict[str, list[int] | int]:
        return {"fold": self.index, "victims": self.victims.tolist(), "auxiliary": self.auxiliary.tolist()}


def prior_folds(n_identities: int, folds: int = FOLDS, seed: int = FOLD_SEED) -> list[Fold]:
    """The folds of ``n_identities`` people: each fold's victims against everyone else."""
    groups = identity_folds(n_identities, folds, seed)
    everyone = np.arange(n_identities)
    return [Fold(i, group, np.setdiff1d(everyone, group)) for i, group in enumerate(groups)]


def fold_of(identity: int, folds: list[Fold]) -> Fold:
    """The fold whose victims include ``identity``."""
    return next(fold for fold in folds if identity in fold.victims)
