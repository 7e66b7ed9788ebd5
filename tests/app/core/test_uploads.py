"""An upload is refused for exactly the reasons training would refuse its CSV: one check serves both."""

from __future__ import annotations

import pytest

from app.core.errors import BadRequest
from app.core.uploads import parse_csv
from app.zoo import InputError, train_tree_from_csv

WIDE = ",".join(f"c{i}" for i in range(1001)) + "\n" + ",".join("1" * 1001) + "\n"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("only\n1\n2\n", "at least two columns"),
        ("a,b\n", "no rows"),
        ("a,b\n1,2,3\n", "row 2 has 3 values"),
        ("a,a\n1,2\n", "duplicate column names: a"),
        (" ,b\n1,2\n", "needs a name"),
        ('a,b\n"1,2\n', "could not be parsed"),
        (WIDE, "1001 columns; at most 1000"),
    ],
)
def test_an_upload_is_refused_as_training_would_refuse_it(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as training:
        train_tree_from_csv("t", text)
    with pytest.raises(BadRequest) as upload:
        parse_csv(text)
    assert upload.value.message == str(training.value)


def test_a_good_csv_is_its_trimmed_header_and_non_blank_rows() -> None:
    assert parse_csv("a, b\n1,x\n\n2,y\n") == (["a", "b"], [["1", "x"], ["2", "y"]])
