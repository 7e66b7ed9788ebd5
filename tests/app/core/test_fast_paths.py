"""The single-row fast paths (issue 2) give exactly what the general code gives."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import numpy as np
import pytest
from flask import request
from werkzeug.urls import iri_to_uri

from app.core.errors import BadRequest
from app.dialects.bigml_resources import timestamp
from tests.app.dialects.bigml_helpers import builtin_id, new_user
from tests.app.zoo.conftest import hand_tree


def test_tree_infinity_check_matches_numpy() -> None:
    tree = hand_tree()
    for X in (np.array([[1.0, np.inf]]), np.array([[-np.inf, np.nan]]), np.array([[np.nan, 2.0]]),
              np.array([[1.0, 2.0]] * 20), np.array([[1.0, 2.0]] * 19 + [[np.inf, 0.0]]), np.array([[1, 2]])):
        assert (tree.check_inputs(X) is not None) == bool(np.isinf(X).any())


def test_tree_fast_paths_agree_with_the_general_computation() -> None:
    tree = hand_tree()
    X = np.array([[40.0, 1.0], [40.0, 0.0], [np.nan, 0.0], [20.0, np.nan]])
    counts = tree.node_counts[tree.final_nodes(X)].astype(np.float64)
    np.testing.assert_array_equal(tree.predict_proba(X), counts / counts.sum(axis=1, keepdims=True))
    assert tree.predict_paths(X) == [tree.path_to(int(node)) for node in tree.final_nodes(X)]
    records = [{"age": "31", "color": " red "}, {"color": "blue"}, {}, {"age": None, "color": "NA"}]
    encoded = tree.encode_records(records)
    np.testing.assert_array_equal(encoded, [[31.0, 1.0], [np.nan, 0.0], [np.nan, np.nan], [np.nan, np.nan]])
    assert tree.encode_records([]).shape == (0, 2)


def test_timestamp_is_bigmls_format() -> None:
    rng = random.Random(0)
    for seconds in [0.0, 1444608000.0, 1e9 + 0.9999995, -6e10] + [rng.uniform(0, 4e9) for _ in range(2000)]:
        assert timestamp(seconds) == datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1, "a": [2.5, -0.0, 1e-320, 123456789012345678]}',
        b'{"big": 123456789012345678901234567890, "neg": -9223372036854775809}',
        b'{"huge": 1e400}',
        b'\xef\xbb\xbf{"bom": true}',
        json.dumps({"utf16": "\u00e9"}).encode("utf-16"),
        b'{"pair": "\\ud83d\\ude00"}',
    ],
)
def test_json_bodies_parse_as_the_json_module_parses_them(app, raw: bytes) -> None:
    from app.dialects.common import json_body

    with app.test_request_context(data=raw, content_type="application/json"):
        parsed = json_body()
    assert repr(parsed) == repr(json.loads(raw))


@pytest.mark.parametrize(
    "raw", [b'{"a": NaN}', b'{"a": -Infinity}', b"{", b'{"a": 1} x', b"\xff\xfe", b'{"surrogate": "\\ud800"}']
)
def test_json_errors_keep_their_messages(app, raw: bytes) -> None:
    from app.dialects.common import json_body

    with app.test_request_context(data=raw, content_type="application/json"), pytest.raises(BadRequest) as caught:
        json_body()
    if b"N" in raw or b"I" in raw:
        assert "is not valid JSON (NaN and infinity are not numbers here)" in caught.value.message
    else:
        assert caught.value.message.startswith("malformed JSON: ")


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "ExAmple.COM:8080", "[::1]:80"])
def test_prediction_location_is_werkzeugs_uri(app, client, admin_headers, host: str) -> None:
    user = new_user(client, admin_headers)
    tree = next(m for m in app.extensions["mlaas"].registry.builtins.values() if m.kind == "tree")
    body = {"model": f"model/{builtin_id(tree.name)}", "input_data": {}}
    with app.test_request_context("/prediction", method="POST", headers={"Host": host}):
        root = request.url_root
    for _ in range(2):  # the second one from the remembered root
        response = client.post(f"/prediction?{user.query}", json=body, headers={"Host": host})
        assert response.status_code == 201
        expected = iri_to_uri(f"{root}andromeda/{response.get_json()['resource']}")
        assert response.headers["Location"] == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_interval_check_is_the_exact_comparison(dtype) -> None:
    from app.zoo.images import in_unit_interval

    one = dtype(1.0)
    special = [0.0, -0.0, 1.0, np.nextafter(one, dtype(2)), np.nextafter(dtype(0), dtype(-1)), np.inf, -np.inf,
               np.nan, np.finfo(dtype).tiny, np.nextafter(one, dtype(0)), -1.0, 2.0]  # fmt: skip
    rng = np.random.default_rng(0)
    for value in special:
        for X in (np.full((2, 3), value, dtype=dtype), np.r_[rng.random(5), value].astype(dtype)[None, :]):
            expected = bool(np.isfinite(X).all() and X.min() >= 0 and X.max() <= 1)
            assert in_unit_interval(X) is expected, (value, X)
    assert in_unit_interval(rng.random((4, 7)).astype(dtype))
    assert in_unit_interval(np.zeros((0, 3), dtype=dtype))
