"""Trees trained on a user's CSV, the way the built-in survey trees are trained."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from app.zoo.base import InputError
from app.zoo.tree_train import fit_tree
from app.zoo.trees import TreeModel, is_missing

if TYPE_CHECKING:  # loaded on the first upload, not when a worker starts
    import pandas as pd

MAX_CLASSES = 100
MAX_COLUMNS = 1000


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # CSV text can be too long or odd for a file name
        return False


def _read_text(source: str | bytes | Path) -> tuple[str, str]:
    """(CSV text, file label): a Path or an existing file name is read, else it is the text."""
    try:
        if isinstance(source, bytes):
            return source.decode("utf-8-sig"), "upload.csv"
        if isinstance(source, Path) or ("\n" not in source and _is_file(source)):
            return Path(source).read_text(encoding="utf-8-sig"), Path(source).name
    except UnicodeDecodeError:
        raise InputError("the CSV is not UTF-8 text") from None
    return source.removeprefix("\ufeff"), "upload.csv"


def read_csv_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV a tree can learn from, as strings; blank lines skipped.

    The one check of uploaded CSV text: the service validates a source with it when it
    is uploaded, and training reads the same text with it again.
    """
    try:
        lines = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InputError(f"the CSV could not be parsed: {exc}") from None
    if not lines:
        raise InputError("the CSV is empty")
    header = [name.strip() for name in lines[0]]
    if len(header) < 2:
        raise InputError("the CSV needs a header row with at least two columns (inputs and an objective)")
    if len(header) > MAX_COLUMNS:
        raise InputError(f"the CSV has {len(header)} columns; at most {MAX_COLUMNS} are supported")
    if not all(header):
        raise InputError("every column of the CSV header needs a name")
    duplicates = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicates:
        raise InputError(f"duplicate column names: {', '.join(duplicates)}")
    rows = lines[1:]
    if not rows:
        raise InputError("the CSV has a header but no rows")
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise InputError(f"CSV row {number} has {len(row)} values, the header has {len(header)}")
    return header, rows


def _parse(text: str) -> pd.DataFrame:
    """The checked table as strings, row index = data line order."""
    import pandas as pd

    header, rows = read_csv_table(text)
    return pd.DataFrame(rows, columns=header, dtype=object)


def train_tree_from_csv(
    name: str,
    csv_text_or_path: str | bytes | Path,
    objective: str | None = None,
    owner: str | None = None,
    sensitive: str | None = None,
    seed: int = 0,
) -> TreeModel:
    """A decision tree predicting ``objective`` (default: the last column) from the rest.

    The objective is read as categories. Rows without an objective (and, when
    ``sensitive`` is named, without that answer) are left out, as for the
    built-ins; ``training_rows``/``heldout_rows`` count the CSV's data rows.
    """
    text, file = _read_text(csv_text_or_path)
    table = _parse(text)
    objective = table.columns[-1] if objective is None else objective
    for role, column in (("objective", objective), ("sensitive field", sensitive)):
        if column is not None and column not in table.columns:
            raise InputError(f"{role} {column!r} is not a column; columns: {', '.join(table.columns)}")
    if sensitive == objective:
        raise InputError("the sensitive field must differ from the objective")
    answered = [c for c in (objective, sensitive) if c is not None]
    table = table[~table[answered].map(is_missing).any(axis=1)]
    if table.empty:
        raise InputError(f"no row has a value for {' and '.join(map(repr, answered))}")
    n_classes = table[objective].str.strip().nunique()
    if n_classes > MAX_CLASSES:
        raise InputError(
            f"objective {objective!r} has {n_classes} distinct values; a tree classifies into at most "
            f"{MAX_CLASSES} (is it a numeric column?)"
        )
    return fit_tree(
        table,
        objective,
        name=name,
        dataset=name,
        file=file,
        seed=seed,
        sensitive=sensitive,
        owner=owner,
        description=f"decision tree predicting {objective!r} (uploaded)",
    )
