"""Models to bytes and back: the cache format and the database blob of uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest

from app.zoo import ImageModel, TreeModel, model_from_bytes, model_to_bytes, train_tree_from_csv
from tests.app.zoo.conftest import hand_image_model, hand_tree, survey_csv


def _same(a, b) -> None:
    assert type(a) is type(b)
    for attribute in ("name", "kind", "classes", "fields", "objective", "sensitive", "owner", "description",
                      "upload_id", "columns", "image_shape"):
        assert getattr(a, attribute) == getattr(b, attribute), attribute
    assert a.metadata == b.metadata
    for x, y in zip(a.heldout(), b.heldout(), strict=True):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype


def test_tree_round_trip_keeps_schema_predictions_and_export() -> None:
    for model in (hand_tree(), train_tree_from_csv("up", survey_csv(), owner="bob", sensitive="color")):
        model.upload_id, model.columns = "abc123", ["age", "color", "answer"]
        copy = model_from_bytes(model_to_bytes(model))
        assert isinstance(copy, TreeModel)
        _same(model, copy)
        X = np.vstack([model.heldout()[0], np.full((1, model.n_features), np.nan)])
        np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
        assert copy.export() == model.export()


def test_image_round_trip_keeps_float32_layers_and_decoder() -> None:
    model = hand_image_model()
    copy = model_from_bytes(model_to_bytes(model))
    assert isinstance(copy, ImageModel)
    _same(model, copy)
    assert copy.image_shape == (2, 3) and len(copy.decoder) == 1
    for a, b in zip(model.layers + model.decoder, copy.layers + copy.decoder, strict=True):
        assert a.activation == b.activation and b.weights.dtype == np.float32
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)
    np.testing.assert_array_equal(copy.predict_proba(model.heldout()[0]), model.predict_proba(model.heldout()[0]))


def test_loaded_arrays_are_read_only() -> None:
    copy = model_from_bytes(model_to_bytes(hand_image_model()))
    with pytest.raises(ValueError, match="read-only"):
        copy.layers[0].weights[0, 0] = 1.0


def test_blobs_hold_no_pickles_and_a_wrong_version_is_refused() -> None:
    blob = model_to_bytes(hand_tree())
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        header = bytes(archive["header"]).replace(b'"format": 1', b'"format": 99')
        arrays = {name: archive[name] for name in archive.files if name != "header"}
    buffer = io.BytesIO()
    np.savez(buffer, header=np.frombuffer(header, dtype=np.uint8), **arrays)
    with pytest.raises(ValueError, match="format 99"):
        model_from_bytes(buffer.getvalue())


def test_a_blob_with_the_upload_facts_in_its_metadata_reads_them_as_fields() -> None:
    """Uploads stored before ``upload_id`` and ``columns`` were typed fields kept them in the metadata."""
    model = hand_tree()
    model.metadata.update({"upload_id": "abc123", "columns": ["color", "age", "answer"]})
    copy = model_from_bytes(model_to_bytes(model))
    assert (copy.upload_id, copy.columns) == ("abc123", ["color", "age", "answer"])
    assert "upload_id" not in copy.metadata and "columns" not in copy.metadata
