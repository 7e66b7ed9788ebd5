"""The factory registers the dialects from one list; a dialect is one module exporting DIALECT."""

from __future__ import annotations

import pkgutil
import sys
import types
from pathlib import Path

import pytest
from flask import Response, jsonify
from flask_smorest import Blueprint

import app as app_package
from app import DIALECT_MODULES, create_app, dialects
from app.core.errors import ApiError, NotFound
from app.dialects.dialect import Dialect


def test_every_dialect_module_is_registered_once() -> None:
    folder = Path(app_package.__file__).parent / "dialects"
    exporting = {
        info.name
        for info in pkgutil.iter_modules([str(folder)])
        if hasattr(__import__(f"app.dialects.{info.name}", fromlist=["_"]), "DIALECT")
    }
    assert exporting == set(DIALECT_MODULES) and len(DIALECT_MODULES) == len(set(DIALECT_MODULES))
    assert all(isinstance(dialect, Dialect) for dialect in dialects())


def test_a_new_dialect_is_one_module_and_one_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blp = Blueprint("echo", __name__)

    @blp.route("/echo/<word>")
    def echo(word: str) -> Response:
        if word == "missing":
            raise NotFound("no such word")
        return jsonify({"echo": word})

    def render(err: ApiError) -> Response:
        return jsonify({"echo-error": err.message, "status": err.status})

    module = types.ModuleType("app.dialects.echo")
    module.DIALECT = Dialect(blp, ((("/echo",), render),))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.dialects.echo", module)
    monkeypatch.setattr(app_package, "DIALECT_MODULES", (*DIALECT_MODULES, "echo"))
    service = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "BUILTIN_MODELS": False, "TESTING": True}
    )
    client = service.test_client()
    assert client.get("/echo/hello").get_json() == {"echo": "hello"}
    missing = client.get("/echo/missing")
    assert missing.status_code == 404 and missing.get_json() == {"echo-error": "no such word", "status": 404}
    # the other dialects keep their own formats
    assert "status" in client.get("/andromeda/nothing-here").get_json()
    assert set(client.get("/v2/nothing-here").get_json()) == {"error"}
