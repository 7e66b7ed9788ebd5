"""BigML upload flow, in-process: source -> dataset -> model -> prediction, per-user isolation, deletes."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.dialects.bigml_helpers import CSV, BigMLUser, assert_bigml_error, new_user

RESOURCE = re.compile(r"^(source|dataset|model|prediction)/[0-9a-f]{24}$")


@pytest.fixture()
def alice(client: FlaskClient, admin_headers: dict[str, str]) -> BigMLUser:
    return new_user(client, admin_headers)


@pytest.fixture()
def bob(client: FlaskClient, admin_headers: dict[str, str]) -> BigMLUser:
    return new_user(client, admin_headers)


def created(response: Any, kind: str) -> dict[str, Any]:
    """A create's answer as the bindings need it: 201, Location, finished status."""
    body = response.get_json()
    assert response.status_code == 201, body
    assert RESOURCE.match(body["resource"]) and body["resource"].startswith(f"{kind}/")
    assert response.headers["Location"].endswith(f"/andromeda/{body['resource']}")
    assert body["status"]["code"] == 5 and body["code"] == 201
    return body


def upload(client: FlaskClient, user: BigMLUser, text: str = CSV, **form: str) -> dict[str, Any]:
    data = {"file": (io.BytesIO(text.encode()), "people.csv"), **form}
    return created(client.post(f"/andromeda/source?{user.query}", data=data, content_type="multipart/form-data"),
                   "source")


def post(client: FlaskClient, user: BigMLUser, kind: str, body: Any) -> Any:
    return client.post(f"/andromeda/{kind}?{user.query}", json=body)


def make_model(client: FlaskClient, user: BigMLUser, text: str = CSV, **args: Any) -> dict[str, Any]:
    source = upload(client, user, text)
    dataset = created(post(client, user, "dataset", {"source": source["resource"]}), "dataset")
    return created(post(client, user, "model", {"dataset": dataset["resource"], **args}), "model")


def test_upload_flow_trains_a_tree_that_predicts(client: FlaskClient, alice: BigMLUser) -> None:
    source = upload(client, alice, name="People")
    assert source["name"] == "People" and source["rows"] == 120
    assert [f["name"] for f in source["fields"].values()] == ["age", "colour", "hours", "label"]
    dataset = created(post(client, alice, "dataset", {"source": source["resource"]}), "dataset")
    fields = dataset["fields"]
    assert fields["000000"]["optype"] == "numeric" and fields["000000"]["summary"]["minimum"] == 20
    colours = dict(map(tuple, fields["000001"]["summary"]["categories"]))
    assert colours == {"red": 40, "green": 40, "blue": 40}
    model = created(post(client, alice, "model", {"dataset": dataset["resource"], "name": "mine"}), "model")
    assert model["name"] == "mine" and model["dataset"] == dataset["resource"]
    assert model["objective_field"] == "000003" and model["input_fields"] == ["000000", "000001", "000002"]
    root = model["model"]["root"]
    assert root["predicate"] is True and root["children"], "a tree that learnt nothing"
    assert sum(n for _, n in root["objective_summary"]["categories"]) == root["count"]
    input_colours = dict(map(tuple, model["model"]["fields"]["000001"]["summary"]["categories"]))
    assert input_colours == colours

    answer = post(client, alice, "prediction", {"model": model["resource"], "input_data": {"age": 55, "colour": "red"}})
    prediction = created(answer, "prediction")
    assert prediction["model"] == model["resource"] and prediction["output"] in ("yes", "no")
    assert prediction["input_data"] == {"000000": 55, "000001": "red"}
    by_id = post(client, alice, "prediction", {"model": model["resource"], "input_data": prediction["input_data"]})
    assert created(by_id, "prediction")["probabilities"] == prediction["probabilities"]
    twice = post(client, alice, "prediction", {"model": model["resource"], "input_data": {"000000": 55, "age": 55}})
    assert_bigml_error(twice, 400, -1203, "twice")

    fetched = client.get(f"/andromeda/{model['resource']}?{alice.query}").get_json()
    assert fetched["model"]["root"] == root
    listed = client.get(f"/andromeda/model?{alice.query}&limit=1000").get_json()["objects"]
    assert model["resource"] in [entry["resource"] for entry in listed]


def test_inline_sources_csv_text_and_json_rows(client: FlaskClient, alice: BigMLUser) -> None:
    text = created(post(client, alice, "source", {"data": CSV}), "source")
    assert text["rows"] == 120
    rows = [{"a": i, "b": "x" if i % 2 else "y", "c": "p" if i % 3 else "q"} for i in range(30)]
    listed = created(post(client, alice, "source", {"data": json.dumps(rows), "name": "rows"}), "source")
    assert listed["rows"] == 30 and [f["name"] for f in listed["fields"].values()] == ["a", "b", "c"]


def test_objective_by_id_or_name(client: FlaskClient, alice: BigMLUser) -> None:
    by_name = make_model(client, alice, objective_field="colour")
    assert by_name["objective_field"] == "000001" and by_name["objective_field_name"] == "colour"
    by_id = make_model(client, alice, objective_field="000003")
    assert by_id["objective_field_name"] == "label"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"remote": "https://static.bigml.com/csv/iris.csv"}, 400, -1204),
        ({}, 400, -1200),
        ({"data": 12}, 400, -1205),
        ({"data": ""}, 400, None),
        ({"data": "a,b\n1,2,3\n"}, 400, None),
        ({"data": "a,a\n1,2\n"}, 400, None),
        ({"data": "only\n1\n"}, 400, None),
        ({"data": "a,b\n"}, 400, None),
        ({"data": "[{\"a\": {\"b\": 1}}]"}, 400, None),
        ({"data": CSV, "source_colour": "red"}, 400, -1204),
    ],
)
def test_bad_sources(client: FlaskClient, alice: BigMLUser, body: Any, status: int, code: int | None) -> None:
    assert_bigml_error(post(client, alice, "source", body), status, code)


def test_bad_multipart_sources(client: FlaskClient, alice: BigMLUser) -> None:
    no_file = client.post(f"/andromeda/source?{alice.query}", data={"name": "x"}, content_type="multipart/form-data")
    assert_bigml_error(no_file, 400, -1200, "file")
    extra = {"file": (io.BytesIO(CSV.encode()), "a.csv"), "colour": "red"}
    assert_bigml_error(client.post(f"/andromeda/source?{alice.query}", data=extra, content_type="multipart/form-data"),
                       400, -1204, "colour")
    binary = {"file": (io.BytesIO(b"\xff\xfe\x00bad"), "a.csv")}
    assert_bigml_error(client.post(f"/andromeda/source?{alice.query}", data=binary,
                                   content_type="multipart/form-data"), 400, mentions="UTF-8")


def test_bad_datasets_and_models(client: FlaskClient, alice: BigMLUser) -> None:
    assert_bigml_error(post(client, alice, "dataset", {}), 400, -1200, "source")
    assert_bigml_error(post(client, alice, "dataset", {"source": "dataset/" + "a" * 24}), 400, -1201)
    assert_bigml_error(post(client, alice, "dataset", {"source": "source/" + "a" * 24}), 404)
    source = upload(client, alice)
    dataset = created(post(client, alice, "dataset", {"source": source["resource"]}), "dataset")["resource"]
    assert_bigml_error(post(client, alice, "model", {"dataset": dataset, "objective_field": "nope"}), 400, -1203)
    numeric = created(post(client, alice, "model", {"dataset": dataset, "objective_field": "age"}), "model")
    assert len(numeric["model"]["distribution"]["training"]["categories"]) > 2  # ages as classes, as the zoo reads them
    many = "x,y\n" + "\n".join(f"{i},class-{i}" for i in range(150))
    many_source = created(post(client, alice, "source", {"data": many}), "source")["resource"]
    many_dataset = created(post(client, alice, "dataset", {"source": many_source}), "dataset")["resource"]
    assert_bigml_error(post(client, alice, "model", {"dataset": many_dataset}), 400, mentions="distinct")
    assert_bigml_error(post(client, alice, "model", {"dataset": dataset, "objective_field": 3}), 400, -1205)
    assert_bigml_error(post(client, alice, "model", {"dataset": dataset, "depth": 3}), 400, -1204, "depth")
    assert_bigml_error(post(client, alice, "model", {"dataset": dataset, "name": ""}), 400)


def test_users_see_only_their_own_uploads(client: FlaskClient, alice: BigMLUser, bob: BigMLUser) -> None:
    model = make_model(client, alice)
    source, dataset = model["source"], model["dataset"]
    for resource in (source, dataset, model["resource"]):
        assert client.get(f"/andromeda/{resource}?{alice.query}").status_code == 200
        assert_bigml_error(client.get(f"/andromeda/{resource}?{bob.query}"), 404)
        assert_bigml_error(client.delete(f"/andromeda/{resource}?{bob.query}"), 404)
    assert_bigml_error(post(client, bob, "dataset", {"source": source}), 404)
    assert_bigml_error(post(client, bob, "model", {"dataset": dataset}), 404)
    assert_bigml_error(post(client, bob, "prediction", {"model": model["resource"], "input_data": {}}), 404)
    for kind in ("source", "dataset", "model"):
        listing = client.get(f"/andromeda/{kind}?{bob.query}&limit=1000").get_json()
        assert not any(entry["resource"] in (source, dataset, model["resource"]) for entry in listing["objects"])


def test_listing_pages(client: FlaskClient, alice: BigMLUser) -> None:
    sources = [upload(client, alice)["resource"] for _ in range(3)]
    first = client.get(f"/andromeda/source?{alice.query}&limit=2").get_json()
    assert first["meta"]["total_count"] == 3 and first["meta"]["next"] and first["meta"]["previous"] is None
    second = client.get(f"/andromeda/source?{alice.query}&limit=2&offset=2").get_json()
    assert second["meta"]["next"] is None and second["meta"]["previous"]
    assert [o["resource"] for o in first["objects"] + second["objects"]] == sources


def test_deletes_respect_what_was_made_from_what(client: FlaskClient, alice: BigMLUser) -> None:
    model = make_model(client, alice)
    assert_bigml_error(client.delete(f"/andromeda/{model['source']}?{alice.query}"), 400, mentions="dataset")
    assert_bigml_error(client.delete(f"/andromeda/{model['dataset']}?{alice.query}"), 400, mentions="model")
    assert client.delete(f"/andromeda/{model['resource']}?{alice.query}").status_code == 204
    assert_bigml_error(client.get(f"/andromeda/{model['resource']}?{alice.query}"), 404)
    assert_bigml_error(post(client, alice, "prediction", {"model": model["resource"]}), 404)
    assert client.delete(f"/andromeda/{model['dataset']}?{alice.query}").status_code == 204
    assert client.delete(f"/andromeda/{model['source']}?{alice.query}").status_code == 204
    assert_bigml_error(client.get(f"/andromeda/{model['source']}?{alice.query}"), 404)
