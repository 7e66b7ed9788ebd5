"""The panel on the real AT&T photos (skipped without ``MLAAS_DATA_DIR``) and on the digits fallback."""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.datasets import ATT_SHAPE, DIGITS_SHAPE, FaceData, load_faces
from attack_clients.faces.targets import fit_dense_target
from attack_clients.judges import JudgePanel, panel_for


@pytest.fixture(scope="session")
def att() -> FaceData:
    try:
        return load_faces(ATT_SHAPE)
    except FileNotFoundError:
        pytest.skip("the AT&T faces need MLAAS_DATA_DIR")


@pytest.fixture(scope="session")
def att_panel(att: FaceData) -> JudgePanel:
    return panel_for(ATT_SHAPE)


@pytest.fixture(scope="session")
def digits_panel() -> JudgePanel:
    return panel_for(DIGITS_SHAPE)


@pytest.fixture(scope="session")
def att_softmax(att: FaceData) -> dict:
    """A softmax regression on 7 of each person's 10 photos, the architecture of the zoo's ``faces-softmax``."""
    training = np.arange(len(att.labels)) % 10 < 7
    return fit_dense_target(att.images[training], att.labels[training], len(att.classes), att.image_shape, epochs=150)
