"""Operator endpoints: users, limits, live defence settings, downloads, utility, query log, feature log."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from app.core.accounts import Principal
from app.core.defense_config import GLOBAL, validate
from app.core.errors import BadRequest
from app.core.service import bearer_key, services
from app.core.utility import utility_under
from app.dialects.common import json_body, json_object, reject_unknown
from app.dialects.dialect import Dialect

blp = Blueprint("admin", __name__, url_prefix="/admin", description="Operator endpoints (admin key only)")

DIALECT = Dialect(blp)

LIMIT_FIELDS = {"row_budget", "rate_limit"}


def _admin() -> Principal:
    principal = services().authenticate(bearer_key())
    services().accounts.require_admin(principal)
    return principal


# The counters are 64-bit signed integers in the database.
MAX_LIMIT = 2**63 - 1


def _limit_values(body: dict[str, Any]) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for name in LIMIT_FIELDS & set(body):
        value = body[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LIMIT):
            raise BadRequest(f"{name} must be an integer from 0 to {MAX_LIMIT} or null, got {value!r}")
        values[name] = value
    return values


@blp.route("/users", methods=["POST"])
def create_user() -> ResponseReturnValue:
    """Create a user; the answer carries its API key, shown only this once."""
    _admin()
    body = json_object()
    reject_unknown(body, {"username"} | LIMIT_FIELDS)
    limits = _limit_values(body)
    key = services().accounts.create_user(body.get("username"), **limits)
    return jsonify({"username": body["username"], "api_key": key}), 201


@blp.route("/users/<username>", methods=["GET"])
def describe_user(username: str) -> ResponseReturnValue:
    """A user's limits and usage."""
    _admin()
    return jsonify(services().accounts.describe(username))


@blp.route("/users/<username>/limits", methods=["PUT"])
def set_limits(username: str) -> ResponseReturnValue:
    """Set a user's row budget and rate limit (requests per window); null lifts one."""
    _admin()
    body = json_object()
    reject_unknown(body, LIMIT_FIELDS | {"rows_used"})
    changes: dict[str, int | None] = _limit_values(body)
    if "rows_used" in body:
        changes["rows_used"] = _limit_values({"row_budget": body["rows_used"]})["row_budget"] or 0
    services().accounts.set_limits(username, changes)
    return jsonify(services().accounts.describe(username))


def _defense_response(scope: str, name: str) -> ResponseReturnValue:
    spec = services().defenses.get(scope, name)
    return jsonify({"scope": scope, "name": name or None, "spec": spec if spec is not None else []})


def _put_defense(scope: str, name: str) -> ResponseReturnValue:
    services().defenses.put(scope, name, json_body())
    return _defense_response(scope, name)


@blp.route("/defense", methods=["GET", "PUT"])
def global_defense() -> ResponseReturnValue:
    """The global default defence (body: the spec, a JSON list)."""
    _admin()
    if request.method == "PUT":
        return _put_defense("global", GLOBAL)
    return _defense_response("global", GLOBAL)


def _scoped_defense(scope: str, name: str) -> ResponseReturnValue:
    if request.method == "PUT":
        return _put_defense(scope, name)
    if request.method == "DELETE":
        services().defenses.delete(scope, name)
        return "", 204
    return _defense_response(scope, name)


@blp.route("/models/<name>/defense", methods=["GET", "PUT", "DELETE"])
def model_defense(name: str) -> ResponseReturnValue:
    """The defence of one model, for every user without a setting of their own."""
    services().registry.get(_admin(), name)
    return _scoped_defense("model", name)


@blp.route("/users/<username>/defense", methods=["GET", "PUT", "DELETE"])
def user_defense(username: str) -> ResponseReturnValue:
    """The defence of one user: beats the model's and the global setting."""
    _admin()
    services().accounts.user_id(username)
    return _scoped_defense("user", username)


@blp.route("/models/<name>/download", methods=["GET", "PUT"])
def model_download(name: str) -> ResponseReturnValue:
    """Whether the white-box download of a built-in model is on (body: {"downloadable": bool})."""
    principal = _admin()
    registry = services().registry
    model = registry.get(principal, name)
    if request.method == "PUT":
        body = json_object()
        reject_unknown(body, {"downloadable"})
        if not isinstance(body.get("downloadable"), bool):
            raise BadRequest("downloadable must be true or false")
        registry.set_downloadable(name, body["downloadable"])
    return jsonify({"name": name, "downloadable": registry.downloadable(model)})


@blp.route("/models/<name>/utility", methods=["GET", "POST"])
def model_utility(name: str) -> ResponseReturnValue:
    """Held-out utility under a defence: the POSTed spec, or the model's effective one."""
    principal = _admin()
    model = services().registry.get(principal, name)
    if request.method == "POST" and json_body(required=False) is not None:
        pipeline = validate(json_body())
    else:
        pipeline = services().defenses.effective(principal.username, model.name)
    return jsonify(utility_under(model, pipeline))


@blp.route("/models/<name>/features", methods=["GET"])
def model_features(name: str) -> ResponseReturnValue:
    """The features a split network's service stage received, newest first (``?limit=``, ``?username=``)."""
    model = services().registry.get(_admin(), name)
    if model.vector_input is None:
        raise BadRequest(f"model {name!r} takes no feature vectors: only a split network's service stage does")
    try:
        limit = int(request.args.get("limit", "1000"))
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    queries = services().query_log.features.read(model.name, limit, request.args.get("username"))
    return jsonify({"model": model.name, "queries": queries})


@blp.route("/query-log", methods=["GET"])
def recent_queries() -> ResponseReturnValue:
    """The most recent logged prediction queries (``?limit=``, default 100)."""
    _admin()
    try:
        limit = int(request.args.get("limit", "100"))
    except ValueError as exc:
        raise BadRequest("limit must be an integer") from exc
    return jsonify({"queries": services().query_log.recent(limit)})
