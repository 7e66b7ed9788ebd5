"""BigML and Azure clients against a loopback server: wire shapes, downloads, parsing."""

from __future__ import annotations

import numpy as np
import pytest

from attack_clients.clients import ApiError, AzureClient, BigMLClient, DownloadForbidden, connect
from attack_clients.clients.bigml import parse_deepnet

from .http_fake import FakeService, Reply, Seen

TREE_ID = "model/5af06df94e17277501000010"
NET_ID = "deepnet/5af06df94e17277501000011"
FIELDS = [
    {"name": "cheated", "optype": "categorical", "categories": ["No", "Yes"]},
    {"name": "age", "optype": "numeric"},
]


def metadata(name: str, classes: list[str]) -> Reply:
    return Reply(200, {"name": name, "parameters": {"kind": "tree", "classes": classes, "fields": FIELDS}})


@pytest.fixture()
def bigml(fake: FakeService) -> FakeService:
    def listing(seen: Seen) -> Reply:
        objects = [{"resource": TREE_ID, "name": "steak-tree"}, {"resource": NET_ID, "name": "faces-mlp"}]
        offset = int(seen.query["offset"][0])
        page = objects[offset : offset + 1]
        return Reply(200, {"meta": {"limit": 1, "offset": offset, "total_count": 2}, "objects": page})

    def predict(seen: Seen) -> Reply:
        body = seen.json()
        assert body["model"] == TREE_ID and "age" not in body["input_data"]
        p_yes = 0.9 if body["input_data"]["cheated"] == "Yes" else 0.2
        return Reply(
            201,
            {
                "resource": "prediction/5af06df94e17277501000099",
                "output": "hi" if p_yes > 0.5 else "lo",
                "probabilities": [["hi", p_yes], ["lo", 1 - p_yes]],
            },
        )

    fake.route("GET", "/andromeda/model", listing)
    fake.route("GET", "/v2/models/steak-tree", lambda _: metadata("steak-tree", ["lo", "hi"]))
    fake.route("POST", "/prediction", predict)
    fake.route("GET", f"/andromeda/{TREE_ID}", lambda _: Reply(200, {"resource": TREE_ID, "model": {"root": {}}}))
    return fake


def test_bigml_finds_by_name_and_predicts_one_row_per_request(bigml: FakeService) -> None:
    client = connect(bigml.url, "secret", "steak-tree", "bigml", username="eve")
    labels, probabilities = client.predict_records([{"cheated": "Yes", "age": None}, {"cheated": "No", "age": ""}])
    assert client.resource_id == TREE_ID and client.kind == "model"
    np.testing.assert_allclose(probabilities, [[0.1, 0.9], [0.8, 0.2]])
    assert labels.tolist() == [1, 0]
    posts = bigml.requests_to("/prediction")
    assert len(posts) == 2 and client.stats.queries == 2 and client.stats.rows == 2
    assert posts[0].query == {"username": ["eve"], "api_key": ["secret"]}
    assert client.download_model()["resource"] == TREE_ID


def test_bigml_403_download_is_download_forbidden(bigml: FakeService) -> None:
    bigml.route(
        "GET",
        f"/andromeda/{TREE_ID}",
        lambda _: Reply(403, {"code": 403, "status": {"code": -1206, "message": "downloads switched off"}}),
    )
    with pytest.raises(DownloadForbidden, match="downloads switched off"):
        BigMLClient(bigml.url, "k", "steak-tree").download_model()


def test_bigml_unknown_name_is_an_api_error(bigml: FakeService) -> None:
    with pytest.raises(ApiError, match="no BigML model"):
        BigMLClient(bigml.url, "k", "nope").resource()


def test_deepnet_layers_in_bigml_layout_are_transposed() -> None:
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(4, 6)), rng.normal(size=(3, 4))  # BigML: one row per output node
    resource = {
        "resource": NET_ID,
        "deepnet": {
            "image_shape": [2, 3],
            "network": {
                "layers": [
                    {"weights": w1.tolist(), "offset": [0.0] * 4, "activation_function": "sigmoid"},
                    {"weights": w2.tolist(), "offset": [0.1] * 3, "activation_function": "softmax"},
                ]
            },
        },
    }
    export = parse_deepnet(resource)
    assert export["image_shape"] == [2, 3] and export["decoder"] == []
    np.testing.assert_allclose(export["layers"][0]["weights"], w1.T)
    np.testing.assert_allclose(export["layers"][1]["weights"], w2.T)
    assert [layer["activation"] for layer in export["layers"]] == ["sigmoid", "softmax"]
    np.testing.assert_allclose(export["layers"][1]["bias"], [0.1] * 3)


def test_deepnet_in_project_layout_is_kept_and_decoder_parsed() -> None:
    rng = np.random.default_rng(1)
    enc, head, dec = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=(4, 6))
    layer = lambda w, act: {"weights": w.tolist(), "bias": [0.0] * w.shape[1], "activation": act}  # noqa: E731
    export = parse_deepnet(
        {
            "deepnet": {
                "layers": [layer(enc, "sigmoid"), layer(head, "softmax")],
                "decoder": [layer(dec, "sigmoid")],
                "encoder_depth": 1,
                "image_shape": [2, 3],
            }
        }
    )
    np.testing.assert_allclose(export["layers"][0]["weights"], enc)
    np.testing.assert_allclose(export["decoder"][0]["weights"], dec)
    assert export["encoder_depth"] == 1


def test_azure_score_endpoint_batches_and_parses_objects(fake: FakeService) -> None:
    fake.route("GET", "/v2/models/steak-tree", lambda _: metadata("steak-tree", ["s1", "s2", "s3"]))

    def score(seen: Seen) -> Reply:
        assert seen.headers["azureml-model-deployment"] == "steak-tree"
        table = seen.json()["input_data"]
        assert table["columns"] == ["cheated", "age"]
        assert table["index"] == list(range(len(table["data"])))
        answer = []
        for cheated, _age in table["data"]:
            p = [0.01, 0.09, 0.9] if cheated == "Yes" else [0.8, 0.1, 0.1]
            answer.append(
                {"Scored Labels": "s3" if cheated == "Yes" else "s1"}
                | {f'Scored Probabilities for Class "s{k + 1}"': v for k, v in enumerate(p)}
            )
        return Reply(200, answer)

    fake.route("POST", "/score", score)
    client = AzureClient(fake.url, "k", "steak-tree", batch_size=2)
    records = [{"cheated": "Yes", "age": 30.0}, {"cheated": "No", "age": None}, {"cheated": "Yes"}]
    labels, probabilities = client.predict_records(records)
    assert labels.tolist() == [2, 0, 2]
    np.testing.assert_allclose(probabilities[1], [0.8, 0.1, 0.1])
    batches = sorted((seen.json()["input_data"]["data"] for seen in fake.requests_to("/score")), key=len)
    assert batches == [[["Yes", None]], [["Yes", 30.0], ["No", None]]]
    assert client.stats.queries == 2 and client.stats.rows == 3


def test_azure_classic_execute_strings_both_ways(fake: FakeService) -> None:
    fake.route("GET", "/v2/models/steak-tree", lambda _: metadata("steak-tree", ["lo", "hi"]))

    def execute(seen: Seen) -> Reply:
        assert seen.query == {"api-version": ["2.0"], "details": ["true"]}
        table = seen.json()["Inputs"]["input1"]
        assert table["ColumnNames"] == ["cheated", "age"] and table["Values"] == [["Yes", "30"], ["No", ""]]
        columns = [
            "cheated",
            "age",
            "Scored Labels",
            'Scored Probabilities for Class "hi"',
            'Scored Probabilities for Class "lo"',
        ]
        values = [["Yes", "30", "hi", "0.75", "0.25"], ["No", "", "lo", "0.1", "0.9"]]
        return Reply(
            200, {"Results": {"output1": {"type": "DataTable", "value": {"ColumnNames": columns, "Values": values}}}}
        )

    fake.route("POST", "/workspaces/ws/services/steak-tree/execute", execute)
    client = connect(fake.url, "k", "steak-tree", "azure-classic", workspace="ws")
    labels, probabilities = client.predict_records([{"cheated": "Yes", "age": 30}, {"cheated": "No"}])
    assert labels.tolist() == [1, 0]
    np.testing.assert_allclose(probabilities, [[0.25, 0.75], [0.9, 0.1]])


def test_azure_rows_of_numbers_and_unknown_classes(fake: FakeService) -> None:
    fake.route("GET", "/v2/models/m", lambda _: metadata("m", ["a", "b"]))
    fake.route("POST", "/score", lambda _: Reply(200, [[0.3, 0.7]]))
    labels, probabilities = AzureClient(fake.url, "k", "m").predict_records([{"cheated": "No"}])
    assert labels.tolist() == [1] and probabilities.tolist() == [[0.3, 0.7]]
    fake.route("POST", "/score", lambda _: Reply(200, [{'Scored Probabilities for Class "zzz"': 1.0}]))
    with pytest.raises(ValueError, match="zzz"):
        AzureClient(fake.url, "k", "m").predict_records([{"cheated": "No"}])


def test_azure_two_class_single_column_is_the_second_class(fake: FakeService) -> None:
    fake.route("GET", "/v2/models/m", lambda _: metadata("m", ["no", "yes"]))
    fake.route("POST", "/score", lambda _: Reply(200, [{"Scored Labels": "yes", "Scored Probabilities": 0.75}]))
    labels, probabilities = AzureClient(fake.url, "k", "m").predict_records([{"cheated": "No"}])
    assert labels.tolist() == [1] and probabilities.tolist() == [[0.25, 0.75]]


def test_bigml_sends_only_the_key_without_a_username(bigml: FakeService) -> None:
    BigMLClient(bigml.url, "secret", "steak-tree").predict_records([{"cheated": "No"}])
    assert bigml.requests_to("/prediction")[0].query == {"api_key": ["secret"]}
