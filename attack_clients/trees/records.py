"""Targets of the tree attacks: each one's known features and true label.

For the built-in trees they come from the data file under ``MLAAS_DATA_DIR``,
read here the same way the service's zoo reads it (same row filter, same row
order), so that the metadata's ``training_rows`` / ``heldout_rows`` indices pick
the same people. This is the evaluator's copy of the data: it supplies the
targets' side information and the ground truth, never the attack's knowledge
of x_1. For uploaded models, ``--records CSV`` supplies the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from attack_clients.clients.base import is_missing

STEAK_FILE = "steak/steak-risk-survey.csv"
STEAK_OBJECTIVE = "How do you like your steak prepared?"
STEAK_SENSITIVE = "Have you ever cheated on your significant other?"
STEAK_LOTTERY = "Lottery A or B"
GSS_FILE = "gss/gss_hapmar_xmovie_subset.csv"
GSS_DROPPED = ["id", "wtssall", "year", "marital"]
NO_ANSWER = "No answer"  # how the service's schemas spell a blank categorical answer
SPLIT_NAMES = {
    "train": "training",
    "training": "training",
    "heldout": "heldout",
    "held-out": "heldout",
    "test": "heldout",
}


@dataclass
class TargetSet:
    """Records keyed by field name (x_1 included, as the evaluator's truth) and true labels."""

    records: list[dict[str, Any]]
    labels: list[str]

    def usable(self, sensitive: str) -> TargetSet:
        """Only targets with a known x_1 and label: the rest have no ground truth to score."""
        keep = [
            i for i, r in enumerate(self.records) if not is_missing(r.get(sensitive)) and not is_missing(self.labels[i])
        ]
        return TargetSet([self.records[i] for i in keep], [self.labels[i] for i in keep])


def _answered(table: pd.DataFrame, *columns: str) -> pd.DataFrame:
    keep = np.ones(len(table), dtype=bool)
    for column in columns:
        keep &= table[column].astype(str).str.strip().ne("").to_numpy()
    return table[keep].reset_index(drop=True)


def load_steak(data_dir: Path) -> tuple[pd.DataFrame, str, str]:
    """FiveThirtyEight steak survey: rows answering both the steak and the "cheated" question."""
    raw = pd.read_csv(Path(data_dir) / STEAK_FILE, dtype=str, keep_default_na=False)
    if (raw.iloc[0, 1:] == "Response").all():
        raw = raw.iloc[1:]
    lottery = [column for column in raw.columns if "Lottery A or Lottery B" in column]
    table = raw.drop(columns=["RespondentID"]).rename(columns=dict.fromkeys(lottery, STEAK_LOTTERY))
    return _answered(table, STEAK_OBJECTIVE, STEAK_SENSITIVE), STEAK_OBJECTIVE, STEAK_SENSITIVE


def load_gss(data_dir: Path) -> tuple[pd.DataFrame, str, str]:
    """GSS extract: rows answering both hapmar and xmovie; ids, weights, year, marital dropped."""
    raw = pd.read_csv(Path(data_dir) / GSS_FILE, dtype=str, keep_default_na=False)
    return _answered(raw.drop(columns=GSS_DROPPED), "hapmar", "xmovie"), "hapmar", "xmovie"


def load_fair() -> tuple[pd.DataFrame, str, str]:
    """statsmodels' affairs survey: marriage rating from the rest; x_1 = any affair."""
    import statsmodels.api as sm

    data = sm.datasets.fair.load_pandas().data
    table = data.drop(columns=["affairs", "rate_marriage"])
    table["had_affair"] = np.where(data["affairs"] > 0, "yes", "no")
    table["rate_marriage"] = data["rate_marriage"].astype(int).astype(str)
    return table, "rate_marriage", "had_affair"


def load_table(dataset: Any, data_dir: Path | None) -> tuple[pd.DataFrame, str, str]:
    """The table a built-in tree was trained from, named by the metadata's ``dataset``.

    Returns the table, its objective (label) column and its sensitive column.
    """
    name = str((dataset.get("name") or dataset.get("file")) if isinstance(dataset, Mapping) else dataset).lower()
    if "fair" in name:
        return load_fair()
    if data_dir is None:
        raise FileNotFoundError(f"data set {dataset!r} needs MLAAS_DATA_DIR (or --data-dir, or --records)")
    if "steak" in name:
        return load_steak(data_dir)
    if "gss" in name:
        return load_gss(data_dir)
    raise ValueError(f"unknown built-in data set {dataset!r}; pass --records CSV")


def _value(raw: Any, field: Mapping[str, Any]) -> Any:
    """An answer as the model knows it: a stripped category (a blank is the schema's
    ``No answer`` category when it has one, as the service trained it), or a number."""
    if field.get("optype", "categorical") == "categorical":
        if is_missing(raw):
            return NO_ANSWER if NO_ANSWER in (field.get("categories") or ()) else None
        return str(raw).strip()
    return None if is_missing(raw) else float(raw)


def target_set(frame: pd.DataFrame, fields: Sequence[Mapping[str, Any]], objective: str) -> TargetSet:
    """Records of the model's ``fields`` (by name and optype) and the ``objective`` labels."""
    present = [f for f in fields if f["name"] in frame.columns]
    rows = frame[[f["name"] for f in present]].to_dict("records")
    records = [{f["name"]: _value(row[f["name"]], f) for f in present} for row in rows]
    labels = ["" if is_missing(v) else str(v).strip() for v in frame[objective].tolist()]
    return TargetSet(records, labels)


def builtin_targets(
    metadata: Mapping[str, Any], data_dir: Path | None, objective: str | None = None
) -> tuple[dict[str, TargetSet], str]:
    """Training and held-out targets of a built-in tree, and its objective column."""
    table, default_objective, _ = load_table(metadata["dataset"], data_dir)
    objective = objective or default_objective
    sets = {}
    for name, key in (("training", "training_rows"), ("heldout", "heldout_rows")):
        rows = [int(i) for i in metadata.get(key) or []]
        if rows:
            sets[name] = target_set(table.iloc[rows], metadata["fields"], objective)
    return sets, objective


def csv_targets(
    path: Path, fields: Sequence[Mapping[str, Any]], objective: str, split_column: str = "split"
) -> dict[str, TargetSet]:
    """Targets from a CSV with the field columns and the label column.

    A ``split_column`` (train/training, heldout/test) divides them as the study
    does; without it every row is one set, ``records``.
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if objective not in frame.columns:
        raise ValueError(f"{path} has no label column {objective!r}")
    if split_column not in frame.columns:
        return {"records": target_set(frame, fields, objective)}
    sets = {}
    for raw_name, group in frame.groupby(split_column, sort=True):
        name = SPLIT_NAMES.get(str(raw_name).strip().lower(), str(raw_name))
        sets[name] = target_set(group, fields, objective)
    return sets
