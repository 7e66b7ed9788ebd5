"""Loaders for the data sets the built-in models learn from.

Each loader returns the table exactly as the zoo indexes it: the row indices
recorded in a model's metadata (``training_rows``, ``heldout_rows``) are
positions in what these functions return, so an evaluator can reload the data
and find the same rows.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported by the loaders: serving processes never load pandas
    import pandas as pd

ATT_SUBJECTS = 40
ATT_IMAGES_PER_SUBJECT = 10
ATT_SHAPE = (112, 92)
OLIVETTI_SHAPE = (64, 64)

STEAK_FILE = "steak/steak-risk-survey.csv"
STEAK_OBJECTIVE = "How do you like your steak prepared?"
STEAK_SENSITIVE = "Have you ever cheated on your significant other?"
STEAK_LOTTERY = "Lottery A or B"
GSS_FILE = "gss/gss_hapmar_xmovie_subset.csv"
GSS_DROPPED = ("id", "wtssall", "year", "marital")
OLIVETTI_FILE = "olivetti/olivettifaces.mat"


@dataclass(frozen=True)
class ImageSet:
    """Images flattened row-major to pixels in [0, 1], with integer labels."""

    name: str
    file: str
    pixels: np.ndarray
    labels: np.ndarray
    classes: list[str]
    image_shape: tuple[int, int]


@dataclass(frozen=True)
class SurveyTable:
    """One survey: raw answers ("" or NaN when blank), its label and secret."""

    name: str
    file: str
    table: pd.DataFrame
    objective: str
    sensitive: str


def att_files(data_dir: Path) -> list[Path]:
    """The 400 AT&T images in table order: s1/1.pgm .. s1/10.pgm, s2/1.pgm, ..."""
    root = Path(data_dir) / "att_faces"
    return [
        root / f"s{subject}" / f"{image}.pgm"
        for subject in range(1, ATT_SUBJECTS + 1)
        for image in range(1, ATT_IMAGES_PER_SUBJECT + 1)
    ]


def read_pgm(path: Path) -> np.ndarray:
    """A binary (P5) 8-bit PGM image as a uint8 array of shape (height, width)."""
    raw = Path(path).read_bytes()
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while raw[pos : pos + 1].isspace():
            pos += 1
        if raw[pos : pos + 1] == b"#":
            pos = raw.index(b"\n", pos) + 1
            continue
        end = pos
        while not raw[end : end + 1].isspace():
            end += 1
        tokens.append(raw[pos:end])
        pos = end
    magic, width, height, maxval = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic != b"P5" or maxval > 255:
        raise ValueError(f"{path}: not an 8-bit binary PGM")
    pixels = np.frombuffer(raw, dtype=np.uint8, count=width * height, offset=pos + 1)
    return pixels.reshape(height, width)


def _face_classes() -> list[str]:
    return [f"s{subject}" for subject in range(1, ATT_SUBJECTS + 1)]


def _face_labels() -> np.ndarray:
    return np.repeat(np.arange(ATT_SUBJECTS), ATT_IMAGES_PER_SUBJECT)


def load_att_faces(data_dir: Path) -> ImageSet:
    """AT&T faces at 92x112; image 10k+j is s(k+1)/(j+1).pgm."""
    images = [read_pgm(path) for path in att_files(data_dir)]
    for path, image in zip(att_files(data_dir), images, strict=True):
        if image.shape != ATT_SHAPE:
            raise ValueError(f"{path}: expected {ATT_SHAPE[1]}x{ATT_SHAPE[0]} pixels")
    pixels = np.stack(images).reshape(len(images), -1).astype(np.float32) / 255.0
    return ImageSet("att_faces", "att_faces/", pixels, _face_labels(), _face_classes(), ATT_SHAPE)


def load_olivetti_faces(data_dir: Path) -> ImageSet:
    """Roweis' 64x64 crop; columns are column-major images, so each is transposed."""
    from scipy.io import loadmat

    faces = loadmat(Path(data_dir) / OLIVETTI_FILE)["faces"]
    if faces.shape != (OLIVETTI_SHAPE[0] * OLIVETTI_SHAPE[1], ATT_SUBJECTS * ATT_IMAGES_PER_SUBJECT):
        raise ValueError(f"{OLIVETTI_FILE}: unexpected shape {faces.shape}")
    upright = faces.T.reshape(-1, *OLIVETTI_SHAPE).transpose(0, 2, 1)
    pixels = upright.reshape(len(upright), -1).astype(np.float32) / 255.0
    return ImageSet("olivetti_faces", OLIVETTI_FILE, pixels, _face_labels(), _face_classes(), OLIVETTI_SHAPE)


def load_digits_images() -> ImageSet:
    """scikit-learn's 8x8 digits (pixels 0..16 scaled to [0, 1]): the no-data fallback."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = (digits.data / 16.0).astype(np.float32)
    classes = [str(digit) for digit in range(10)]
    return ImageSet(
        "sklearn_digits",
        "sklearn:digits.csv.gz",
        pixels,
        digits.target.astype(np.int64),
        classes,
        (8, 8),
    )


def _answered(table: pd.DataFrame, *columns: str) -> pd.DataFrame:
    keep = np.ones(len(table), dtype=bool)
    for column in columns:
        keep &= table[column].astype(str).str.strip().ne("").to_numpy()
    return table[keep].reset_index(drop=True)


def load_steak(data_dir: Path) -> SurveyTable:
    """FiveThirtyEight steak survey, rows answering both the label and "cheated"."""
    import pandas as pd

    raw = pd.read_csv(Path(data_dir) / STEAK_FILE, dtype=str, keep_default_na=False)
    if (raw.iloc[0, 1:] == "Response").all():
        raw = raw.iloc[1:]
    lottery = [column for column in raw.columns if "Lottery A or Lottery B" in column]
    table = raw.drop(columns=["RespondentID"]).rename(columns=dict.fromkeys(lottery, STEAK_LOTTERY))
    table = _answered(table, STEAK_OBJECTIVE, STEAK_SENSITIVE)
    return SurveyTable("steak_survey", STEAK_FILE, table, STEAK_OBJECTIVE, STEAK_SENSITIVE)


def load_gss(data_dir: Path) -> SurveyTable:
    """GSS extract, rows answering both hapmar and xmovie; id, weights, year, marital (constant) dropped."""
    import pandas as pd

    raw = pd.read_csv(Path(data_dir) / GSS_FILE, dtype=str, keep_default_na=False)
    table = _answered(raw.drop(columns=list(GSS_DROPPED)), "hapmar", "xmovie")
    return SurveyTable("gss", GSS_FILE, table, "hapmar", "xmovie")


def load_fair() -> SurveyTable:
    """statsmodels' affairs survey: marriage rating 1..5 from the rest; secret = any affair."""
    import statsmodels.api as sm

    data = sm.datasets.fair.load_pandas().data
    table = data.drop(columns=["affairs", "rate_marriage"])
    table["had_affair"] = np.where(data["affairs"] > 0, "yes", "no")
    table["rate_marriage"] = data["rate_marriage"].astype(int).astype(str)
    return SurveyTable("fair", "statsmodels:fair.csv", table, "rate_marriage", "had_affair")


def package_file(package: str, relative: str) -> Path:
    """A data file shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / relative
