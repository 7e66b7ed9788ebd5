"""The on-disk cache of trained built-ins: train once, load fast everywhere.

An entry is named by a hash of everything that decides the model (the data
files' bytes, the training parameters, the training code), so a change to any
of them trains a new entry and an unchanged setup never retrains. Entries are
written to a temporary file and renamed into place, under an exclusive lock,
so processes that start together train once and never read a partial file.
A new entry replaces older ones of the same model and data set (stale code or
data), while the entries of other data sets (digits, Olivetti) stay.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.zoo import catalog
from app.zoo.base import ServedModel
from app.zoo.catalog import BuiltinSpec
from app.zoo.serialise import FORMAT_VERSION, read_model, write_model
from app.zoo.split_network import service_stages

log = logging.getLogger(__name__)

LOCK_FILE = ".zoo.lock"
TRAINING_CODE = (
    "catalog.py", "data.py", "face_train.py", "private_trees.py", "splits.py", "split_train.py", "tree_train.py"
)


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cache_key(spec: BuiltinSpec, data_dir: Path | None) -> str:
    """A hash of the data files' content, the training parameters and the training code."""
    here = Path(__file__).parent
    identity = {
        "model": [spec.name, spec.dataset, spec.architecture],
        "params": catalog.training_params(spec),
        "data": [digest(path) for path in catalog.data_files(spec, data_dir)],
        "code": [digest(here / name) for name in TRAINING_CODE],
        "format": FORMAT_VERSION,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


def _stem(spec: BuiltinSpec) -> str:
    """Entries of one model on one data set share a stem; a new one replaces the old."""
    return f"{spec.name}.{spec.dataset}"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomically(model: ServedModel, path: Path) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write_model(model, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_builtin_models(
    data_dir: Path | str | None, cache_dir: Path | str, face_source: str = "att"
) -> dict[str, ServedModel]:
    """The built-in models by name, trained (under a file lock) only on a cache miss.

    Without ``data_dir`` the face architectures learn scikit-learn's digits and
    ``fair-tree`` the statsmodels affairs survey. Training imports torch in the
    calling process; serving the returned models needs numpy only.
    """
    data_dir = Path(data_dir) if data_dir else None
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    specs = catalog.builtin_specs(data_dir, face_source)
    paths = {spec.name: cache_dir / f"{_stem(spec)}.{cache_key(spec, data_dir)}.npz" for spec in specs}
    if not all(path.exists() for path in paths.values()):
        with locked(cache_dir / LOCK_FILE):
            for spec in specs:
                path = paths[spec.name]
                if not path.exists():
                    log.info("training %s on %s (cache miss)", spec.name, spec.dataset)
                    write_atomically(catalog.train_builtin(spec, data_dir), path)
                    for stale in set(cache_dir.glob(f"{_stem(spec)}.*.npz")) - {path}:
                        stale.unlink(missing_ok=True)
    models = {spec.name: read_model(paths[spec.name]) for spec in specs}
    return {**models, **service_stages(models)}
