"""What the OpenAPI document says, and the answers it revealed as wrong."""

from __future__ import annotations

import pytest

from app.openapi_schemas import OPERATIONS

HEALTH = ("/v2", "/v2/health/live", "/v2/health/ready")


@pytest.fixture(scope="module")
def document(app) -> dict:
    return app.test_client().get("/openapi.json").get_json()


def test_every_body_taking_operation_documents_its_body(document) -> None:
    lacking = [
        (path, method)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put") and "requestBody" not in operation
    ]
    assert lacking == []


def test_every_error_is_documented_in_the_dialects_own_body(document) -> None:
    bodies = {
        "/admin": "AdminError",
        "/andromeda": "BigMLError",
        "/prediction": "BigMLError",
        "/workspaces": "AzureClassicError",
        "/score": "AzureOnlineError",
        "/v2": "InferenceError",
        "/v1": "InferenceError",
    }
    for path, operations in document["paths"].items():
        expected = next(name for prefix, name in bodies.items() if path.startswith(prefix))
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "default" not in operation["responses"]
            schema = operation["responses"]["400"]["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{expected}"}, path


def test_health_needs_no_key_and_the_models_do(document, client) -> None:
    for path in HEALTH:
        assert document["paths"][path]["get"]["security"] == []
        assert client.get(path).status_code == 200
    assert "security" not in document["paths"]["/v2/models/{model_name}"]["get"]  # the global bearer
    assert client.get("/v2/models/faces-softmax").status_code == 401


def test_parameters_are_documented(document) -> None:
    def names(path: str, method: str) -> set[str]:
        return {p["name"] for p in document["paths"][path][method].get("parameters", [])}

    assert {"api-version", "details"} <= names("/workspaces/{workspace}/services/{service}/execute", "post")
    assert "azureml-model-deployment" in names("/score", "post")
    assert {"offset", "limit"} <= names("/andromeda/model", "get")
    assert document["paths"]["/andromeda/model"]["get"]["security"] == [{"bigml": []}, {"bearer": []}]


def test_wrong_method_is_a_405_with_allow_in_the_dialects_format(client) -> None:
    response = client.get("/score")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "MethodNotAllowed"


def test_get_on_v1_predict_is_a_405_not_a_missing_model(client, admin_headers) -> None:
    response = client.get("/v1/models/faces-softmax:predict", headers=admin_headers)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert "error" in response.get_json()


def test_setting_no_limits_changes_nothing(client, admin_headers) -> None:
    client.post("/admin/users", json={"username": "no-limits-change", "row_budget": 7}, headers=admin_headers)
    response = client.put("/admin/users/no-limits-change/limits", json={}, headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["row_budget"] == 7


def test_a_multipart_part_without_a_readable_name_is_a_bigml_400(client, admin_headers) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="I\xc3\xb7%0D"\r\n\r\n{}\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na,b\n1,2\n\r\n--b--\r\n'
    )
    response = client.post(
        "/andromeda/source", data=body, content_type="multipart/form-data; boundary=b", headers=admin_headers
    )
    assert response.status_code == 400
    assert response.get_json()["status"]["code"] == -1204


def test_every_documented_operation_is_served(document) -> None:
    served = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert set(OPERATIONS) <= served
