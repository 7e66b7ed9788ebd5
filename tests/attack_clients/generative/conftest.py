"""A digits target (no data directory needed) and a prior cache of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from attack_clients.datasets import load_digits
from tests.attack_clients.faces.conftest import Target, train_target


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def prior_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("priors")


@pytest.fixture(autouse=True)
def own_cache(prior_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Priors trained by the tests stay in the tests' folder (shared across tests: trained once)."""
    monkeypatch.setenv("MLAAS_PRIOR_CACHE", str(prior_cache))


@pytest.fixture(scope="session")
def digits_target() -> Target:
    """Softmax regression on half of scikit-learn's digits."""
    data = load_digits()
    return train_target(data, np.arange(len(data.labels)) % 2 == 0, epochs=200)
