"""Trees trained on an uploaded CSV: inference of the schema, the split, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from app.zoo import InputError, train_tree_from_csv, tree_train
from app.zoo.tree_train import NO_ANSWER
from tests.app.zoo.conftest import survey_csv


def test_schema_split_and_metadata() -> None:
    model = train_tree_from_csv("survey", survey_csv(), owner="alice", sensitive="color")
    assert model.kind == "tree" and model.owner == "alice" and model.sensitive == "color"
    assert model.objective.name == "label" and model.classes == ["no", "yes"]
    age, color, town = model.fields
    assert age.optype == "numeric" and 18 <= age.minimum <= age.maximum < 80
    assert color.categories == ("blue", "green", "red")  # rows without a colour are left out
    assert town.categories == (NO_ANSWER, "north", "south")  # "NA" is a missing token
    train, held = model.metadata["training_rows"], model.metadata["heldout_rows"]
    assert not set(train) & set(held)
    assert abs(len(train) - len(held)) <= 2
    X, y = model.heldout()
    assert X.shape == (len(held), 3) and y.shape == (len(held),)
    assert 0.6 < model.metadata["heldout_accuracy"] <= 1.0
    assert model.metadata["params"]["min_samples_leaf"] >= 1


def test_row_indices_count_the_csv_data_rows() -> None:
    text = "x,y\n1,a\n2,\n\n3,b\n4,a\n5,b\n6,a\n7,b\n"
    model = train_tree_from_csv("t", text)
    rows = sorted(model.metadata["training_rows"] + model.metadata["heldout_rows"])
    assert rows == [0, 2, 3, 4, 5, 6]  # row 1 has no label, the blank line is not a row


def test_the_same_csv_and_seed_give_the_same_tree() -> None:
    a, b = (train_tree_from_csv("t", survey_csv(), seed=3) for _ in range(2))
    assert a.export() == b.export() and a.metadata["heldout_rows"] == b.metadata["heldout_rows"]


def test_path_bytes_and_text_sources(tmp_path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text(survey_csv())
    exports = [train_tree_from_csv("t", source).export() for source in (path, str(path), survey_csv().encode())]
    assert exports[0] == exports[1] == exports[2]


def test_numeric_looking_objective_is_read_as_categories_and_tiny_classes_train_on_all() -> None:
    model = train_tree_from_csv("t", "a,b,rating\nx,1,1\ny,2,2\nx,3,1\ny,4,3\n", objective="rating")
    assert model.classes == ["1", "2", "3"]
    assert model.metadata["heldout_rows"] == [] and model.metadata["heldout_accuracy"] is None
    assert model.heldout()[0].shape == (0, 2)
    np.testing.assert_allclose(model.predict_proba(model.encode_records([{"a": "x"}])).sum(), 1.0)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "empty"),
        ("only\n1\n2\n", {}, "at least two columns"),
        ("a,b\n", {}, "no rows"),
        ("a,b\n1,2\n", {"objective": "c"}, "objective 'c' is not a column; columns: a, b"),
        ("a,b\n1,2\n", {"sensitive": "z"}, "sensitive field 'z' is not a column"),
        ("a,b\n1,2,3\n", {}, "row 2 has 3 values"),
        ("a,a\n1,2\n", {}, "duplicate column names: a"),
        ("a,b\n1,\n2,NA\n", {}, "no row has a value for 'b'"),
        ("a,b\n" + "".join(f"{i},{i}.5\n" for i in range(150)), {}, "150 distinct values"),
        (b"a,b\n\xff,1\n", {}, "not UTF-8"),
        ("x" * 5000, {}, "at least two columns"),
    ],
)
def test_bad_csvs_are_input_errors(text, kwargs, message) -> None:
    with pytest.raises(InputError, match=message):
        train_tree_from_csv("bad", text, **kwargs)


def test_identifier_columns_that_would_not_fit_in_memory_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_train, "MAX_ONE_HOT_CELLS", 10_000)
    text = "id,label\n" + "".join(f"person{i},{'ab'[i % 2]}\n" for i in range(200))
    with pytest.raises(InputError, match="200 rows x 200 one-hot columns; 'id' alone has 200 categories"):
        train_tree_from_csv("ids", text)
