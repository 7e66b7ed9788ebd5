"""Face images for the *evaluator* (never handed to an attack as knowledge).

Reads ``MLAAS_DATA_DIR``: AT&T faces (``att_faces/sN/M.pgm``, 92 wide x 112
high) or Olivetti (``olivetti/olivettifaces.mat``, 64x64). Without data, falls
back to scikit-learn's digits (8x8, 10 classes), as the service does. Rows are
ordered person-major (person k's image j is row ``10k + j`` for the faces), the
order the zoo's row indices refer to; pixels are row-major in [0, 1].
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ATT_SHAPE = (112, 92)
OLIVETTI_SHAPE = (64, 64)
DIGITS_SHAPE = (8, 8)


@dataclass(frozen=True)
class FaceData:
    """Images ``(n, h*w)`` in [0, 1], identity indices ``(n,)`` and their names."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    image_shape: tuple[int, int]
    source: str


def data_dir() -> Path | None:
    """The data folder named by ``MLAAS_DATA_DIR``, if it exists."""
    value = os.environ.get("MLAAS_DATA_DIR")
    if not value or not Path(value).is_dir():
        return None
    return Path(value)


def read_pgm(path: Path) -> np.ndarray:
    """An 8-bit binary (P5) PGM as a ``(height, width)`` uint8 array."""
    raw = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while raw[pos : pos + 1].isspace():
            pos += 1
        if raw[pos : pos + 1] == b"#":
            pos = raw.index(b"\n", pos) + 1
            continue
        end = pos
        while not raw[end : end + 1].isspace():
            end += 1
        fields.append(raw[pos:end])
        pos = end
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic != b"P5" or maxval > 255:
        raise ValueError(f"{path}: not an 8-bit P5 PGM")
    pixels = np.frombuffer(raw, dtype=np.uint8, count=width * height, offset=pos + 1)
    return pixels.reshape(height, width)


def load_att(root: Path) -> FaceData:
    """AT&T faces, persons ``s1..s40`` (class k is ``s(k+1)``), images ``1..10``."""
    people = sorted(
        (p for p in (root / "att_faces").iterdir() if p.is_dir() and p.name.startswith("s")),
        key=lambda p: int(p.name[1:]),
    )
    images, labels = [], []
    for k, person in enumerate(people):
        files = sorted(person.glob("*.pgm"), key=lambda f: int(f.stem))
        for f in files:
            images.append(read_pgm(f).reshape(-1))
            labels.append(k)
    return FaceData(
        images=np.asarray(images, dtype=np.float64) / 255.0,
        labels=np.asarray(labels),
        classes=[p.name for p in people],
        image_shape=ATT_SHAPE,
        source="att_faces",
    )


def load_olivetti(root: Path) -> FaceData:
    """Olivetti 64x64; the .mat stores each image column-major, so transpose."""
    from scipy.io import loadmat

    faces = loadmat(root / "olivetti" / "olivettifaces.mat")["faces"]
    n = faces.shape[1]
    images = faces.T.reshape(n, 64, 64).transpose(0, 2, 1).reshape(n, -1)
    labels = np.arange(n) // 10
    return FaceData(
        images=images.astype(np.float64) / 255.0,
        labels=labels,
        classes=[f"s{k + 1}" for k in range(labels.max() + 1)],
        image_shape=OLIVETTI_SHAPE,
        source="olivetti",
    )


def load_digits() -> FaceData:
    """scikit-learn's 8x8 digits scaled to [0, 1] (the no-data fallback)."""
    from sklearn.datasets import load_digits as sk_digits

    digits = sk_digits()
    return FaceData(
        images=digits.data / 16.0,
        labels=digits.target.copy(),
        classes=[str(c) for c in digits.target_names],
        image_shape=DIGITS_SHAPE,
        source="digits",
    )


def load_faces(image_shape: tuple[int, int] | None = None) -> FaceData:
    """The data set at a model's input resolution (any available one if None).

    AT&T is matched by pixel count, so ``[92, 112]`` and ``[112, 92]`` both
    select it. Raises ``FileNotFoundError`` when the resolution asks for face
    data that ``MLAAS_DATA_DIR`` does not hold.
    """
    root = data_dir()
    n_pixels = None if image_shape is None else int(np.prod(image_shape))
    if n_pixels == int(np.prod(DIGITS_SHAPE)):
        return load_digits()
    candidates = []
    if root is not None and (root / "att_faces").is_dir():
        candidates.append((int(np.prod(ATT_SHAPE)), load_att))
    if root is not None and (root / "olivetti" / "olivettifaces.mat").is_file():
        candidates.append((int(np.prod(OLIVETTI_SHAPE)), load_olivetti))
    for size, loader in candidates:
        if n_pixels is None or n_pixels == size:
            return loader(root)
    if n_pixels is None:
        return load_digits()
    raise FileNotFoundError(f"no data for image shape {image_shape} under MLAAS_DATA_DIR")
