"""Targets: the attack's own data loader picks the same rows as the service's zoo."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from attack_clients.trees.records import builtin_targets, csv_targets, load_fair, load_gss, load_steak

from .tree_fixtures import FIELDS

ROOT = Path(__file__).resolve().parents[3]


def shared_data() -> Path | None:
    raw = os.environ.get("MLAAS_DATA_DIR")
    path = Path(raw) if raw else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


needs_data = pytest.mark.skipif(shared_data() is None, reason="no MLAAS_DATA_DIR with the survey files")


def test_csv_targets_split_types_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text(
        "cheated,region,smoker,age,steak,split\n"
        "Yes,north,no,30,rare,train\n"
        ",south,yes,,well,train\n"
        "No,east,no,41.5,,heldout\n"
        "No,west,yes,50,medium,test\n"
    )
    sets = csv_targets(path, FIELDS, "steak")
    assert set(sets) == {"training", "heldout"}
    assert sets["training"].records[0] == {"cheated": "Yes", "region": "north", "smoker": "no", "age": 30.0}
    assert sets["training"].records[1]["cheated"] is None and sets["training"].records[1]["age"] is None
    assert sets["training"].usable("cheated").labels == ["rare"]
    assert sets["heldout"].usable("cheated").labels == ["medium"]  # the row without a label is dropped
    assert list(csv_targets(path, FIELDS, "steak", split_column="none")) == ["records"]


@needs_data
def test_builtin_targets_pick_the_metadata_rows() -> None:
    table, objective, sensitive = load_steak(shared_data())
    assert len(table) == 430 and objective == "How do you like your steak prepared?"
    fields = [{"name": sensitive, "optype": "categorical"}, {"name": "Age", "optype": "categorical"}]
    metadata = {"dataset": "steak_survey", "fields": fields, "training_rows": [0, 5], "heldout_rows": [429]}
    sets, label = builtin_targets(metadata, shared_data())
    assert label == objective and [len(s.records) for s in sets.values()] == [2, 1]
    assert sets["heldout"].labels == [table[objective].iloc[429]]
    assert sets["training"].records[1][sensitive] == table[sensitive].iloc[5]


@needs_data
def test_loaders_match_the_zoo() -> None:
    from app.zoo import data as zoo

    data = shared_data()
    for ours, theirs in ((load_steak(data), zoo.load_steak(data)), (load_gss(data), zoo.load_gss(data))):
        pd.testing.assert_frame_equal(ours[0], theirs.table)
        assert (ours[1], ours[2]) == (theirs.objective, theirs.sensitive)
    ours, theirs = load_fair(), zoo.load_fair()
    pd.testing.assert_frame_equal(ours[0], theirs.table)
