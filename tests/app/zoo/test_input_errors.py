"""A model's input errors name the field and the rule broken, for the dialects' error codes."""

from __future__ import annotations

import pytest

from app.zoo import InputError
from tests.app.zoo.conftest import hand_image_model, hand_tree


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        ({"shoe size": 3}, "shoe size", "unknown-field"),
        ({"color": "purple"}, "color", "value"),
        ({"age": "old"}, "age", "value"),
        ({"age": True}, "age", "value"),
    ],
)
def test_tree_input_errors_carry_field_and_reason(record: dict, field: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        hand_tree().encode_records([record])
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert field in str(caught.value)


def test_image_input_errors_carry_field_and_reason() -> None:
    model = hand_image_model()
    with pytest.raises(InputError) as caught:
        model.encode_records([{"pixel_0": 0.5}])
    assert (caught.value.field, caught.value.reason) == ("pixel_1", "missing")
    with pytest.raises(InputError) as caught:
        model.encode_records([{"pixel_0": 0.5, "nose": 1}])
    assert (caught.value.field, caught.value.reason) == ("nose", "unknown-field")
