"""Shared helpers of the BigML dialect tests: users, ids, requests in BigML's shape."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient


@dataclass(frozen=True)
class BigMLUser:
    name: str
    key: str

    @property
    def query(self) -> str:
        return f"username={self.name}&api_key={self.key}"

    @property
    def params(self) -> dict[str, str]:
        return {"username": self.name, "api_key": self.key}


def new_user(client: FlaskClient, admin_headers: dict[str, str], **limits: int) -> BigMLUser:
    name = f"bigml-{uuid.uuid4().hex[:12]}"
    response = client.post("/admin/users", json={"username": name, **limits}, headers=admin_headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return BigMLUser(name, response.get_json()["api_key"])


def builtin_id(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:24]


def assert_bigml_error(response: Any, status: int, code: int | None = None, mentions: str | None = None) -> dict:
    """The response is BigML's error shape with this HTTP status (and sub-code, and text)."""
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert response.status_code == status, body
    assert body["code"] == status
    assert isinstance(body["status"]["code"], int) and body["status"]["code"] < 0
    assert isinstance(body["status"]["message"], str) and body["status"]["message"]
    assert isinstance(body["status"]["extra"], list)
    if code is not None:
        assert body["status"]["code"] == code, body
    if mentions is not None:
        assert mentions in body["status"]["message"] + " ".join(map(str, body["status"]["extra"])), body
    return body


COLOURS = ("red", "green", "blue")
CSV = "age,colour,hours,label\n" + "\n".join(
    f"{20 + i % 40},{COLOURS[i % 3]},{10 + (i * 7) % 50},{'yes' if i % 40 > 15 and i % 3 != 1 else 'no'}"
    for i in range(120)
)
