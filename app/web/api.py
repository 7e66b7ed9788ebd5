"""The JSON and images the tuning page reads (``/ui/api``), admin key only.

Jobs are queued here and run by the job runner (``app.jobs``), never in a web
worker. Files are served only by name patterns from a job's own folder.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
from flask import Response, current_app, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from app.core.accounts import Principal
from app.core.defense_config import validate
from app.core.errors import ApiError, BadRequest, NotFound
from app.core.jobs import JobQueue
from app.core.service import bearer_key, services
from app.core.utility import utility_under
from app.jobs.catalogue import read_catalogue
from app.jobs.config import job_settings
from app.web.blueprint import bp
from app.web.history import evaluation_points, run_points

JOB_FILE = re.compile(r"^recon-\d{1,6}\.png$")
JOB_ID = re.compile(r"^[0-9a-f]{16}$")
TOP_CLASSES = 10
MAX_LIST = 200


class Unavailable(ApiError):
    status = 503
    title = "Service Unavailable"


def _admin() -> Principal:
    principal = services().authenticate(bearer_key())
    services().accounts.require_admin(principal)
    return principal


def _queue() -> JobQueue:
    return current_app.extensions.setdefault("mlaas-jobs", JobQueue(services().accounts.engine))


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


@bp.get("/api/attacks")
def attacks() -> ResponseReturnValue:
    """The attack registry and the evaluation's profiles, as the job runner wrote them."""
    _admin()
    catalogue = read_catalogue(job_settings().folder)
    if catalogue is None:
        raise Unavailable("the job runner has not started (it lists the attacks): start the service with gunicorn")
    return jsonify(catalogue)


@bp.post("/api/models/<name>/sample")
def sample(name: str) -> ResponseReturnValue:
    """One held-out row's clean and defended confidences under the POSTed spec: the top classes by clean confidence."""
    principal = _admin()
    model = services().registry.get(principal, name)
    body = _body()
    pipeline = validate(body.get("spec", []))
    row = body.get("row", 0)
    X, y = model.heldout()
    if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < len(y):
        raise BadRequest(f"row must be an integer in 0..{len(y) - 1}")
    clean = model.predict_proba(X[row : row + 1])
    defended = pipeline.apply(clean, inputs=X[row : row + 1], seed=0, secret=services().noise_secret)
    order = np.argsort(-clean[0], kind="stable")[:TOP_CLASSES]
    return jsonify(
        {
            "model": model.name,
            "kind": model.kind,
            "n_classes": len(model.classes),
            "row": row,
            "true_class": model.classes[int(y[row])],
            "clean_label": model.classes[int(clean[0].argmax())],
            "defended_label": model.classes[int(defended.labels[0])],
            "spec": pipeline.to_spec(),
            "classes": [
                {"name": model.classes[i], "clean": float(clean[0, i]), "defended": float(defended.probabilities[0, i])}
                for i in order
            ],
        }
    )


def _png(pixels: np.ndarray) -> Response:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels * 255, 0, 255).round().astype(np.uint8)).save(buffer, format="PNG")
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", max_age=3600)


@bp.get("/api/models/<name>/photos/<int:label>")
def photo(name: str, label: int) -> ResponseReturnValue:
    """A real held-out image of class ``label``, to set beside its reconstruction."""
    model = services().registry.get(_admin(), name)
    if model.image_shape is None:
        raise BadRequest(f"{name} is not an image model")
    X, y = model.heldout()
    rows = np.flatnonzero(y == label)
    if not len(rows):
        raise NotFound(f"{name} has no held-out image of class {label}")
    return _png(np.asarray(X[rows[0]], dtype=np.float64).reshape(model.image_shape))


def _labels(value: Any, n_classes: int) -> list[int]:
    if value == "all":
        return list(range(n_classes))
    if not isinstance(value, list) or not value or len(value) > n_classes:
        raise BadRequest('people must be "all" or a non-empty list of class indices')
    if any(not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < n_classes for v in value):
        raise BadRequest(f"people must be class indices in 0..{n_classes - 1}")
    return sorted(set(value))


def _positive_or_none(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequest(f"{key} must be a positive integer or null")
    return value


@bp.post("/api/jobs")
def submit_job() -> ResponseReturnValue:
    """Queue an attack against a candidate defence: ``{model, spec, attack, profile, people, max_rows}``."""
    principal = _admin()
    body = _body()
    unknown = set(body) - {"model", "spec", "attack", "profile", "people", "max_rows"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    if not isinstance(body.get("model"), str):
        raise BadRequest("model must be a model name")
    model = services().registry.get(principal, body["model"])
    pipeline = validate(body.get("spec", []))
    catalogue = read_catalogue(job_settings().folder)
    if catalogue is None:
        raise Unavailable("the job runner has not started: no attack can run")
    attack = next((a for a in catalogue["attacks"] if a["name"] == body.get("attack")), None)
    if attack is None:
        raise BadRequest(f"attack must be one of {', '.join(a['name'] for a in catalogue['attacks'])}")
    if (attack["family"] == "face") != (model.kind == "image"):
        raise BadRequest(f"{attack['name']} attacks {'image' if attack['family'] == 'face' else 'tree'} models")
    profile = body.get("profile", "tiny")
    if profile not in catalogue["profiles"]:
        raise BadRequest(f"profile must be one of {', '.join(catalogue['profiles'])}")
    params: dict[str, Any] = {"profile": profile, "max_rows": _positive_or_none(body, "max_rows")}
    if attack["family"] == "face":
        params["labels"] = _labels(body.get("people", "all"), len(model.classes))
    utility = utility_under(model, pipeline)
    job = _queue().submit(principal.username, model.name, pipeline.to_spec(), attack["name"], params, utility)
    return jsonify(_public(job)), 201


def _files(job_id: str) -> list[str]:
    folder = job_settings().folder / job_id
    if not folder.is_dir():
        return []
    return sorted((p.name for p in folder.iterdir() if JOB_FILE.match(p.name)), key=lambda n: int(n[6:-4]))


def _public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the page sees it (the runner's host and pid left out)."""
    return {key: value for key, value in job.items() if key != "runner"}


@bp.get("/api/jobs")
def list_jobs() -> ResponseReturnValue:
    """The most recent jobs, newest first (``?limit=``, default 50)."""
    _admin()
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise BadRequest(f"limit must be an integer in 1..{MAX_LIST}")
    return jsonify({"jobs": [_public(job) for job in _queue().recent(int(raw))]})


def _job(job_id: str) -> dict[str, Any]:
    if not JOB_ID.match(job_id):
        raise NotFound(f"no job {job_id!r}")
    return _queue().get(job_id)


@bp.get("/api/jobs/<job_id>")
def get_job(job_id: str) -> ResponseReturnValue:
    """One job with the reconstructions written so far."""
    _admin()
    return jsonify({**_public(_job(job_id)), "files": _files(job_id)})


@bp.post("/api/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> ResponseReturnValue:
    """Cancel a queued job, or ask the runner to stop a running one."""
    _admin()
    _job(job_id)
    return jsonify(_public(_queue().cancel(job_id)))


@bp.get("/api/jobs/<job_id>/files/<filename>")
def job_file(job_id: str, filename: str) -> ResponseReturnValue:
    """A reconstruction of a job (``recon-<label>.png`` only, from the job's own folder)."""
    _admin()
    _job(job_id)
    path = job_settings().folder / job_id / filename
    if not JOB_FILE.match(filename) or not path.is_file():
        raise NotFound(f"job {job_id} has no file {filename!r}")
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/api/history")
def history() -> ResponseReturnValue:
    """Earlier runs (finished jobs) and the last evaluation's cells, as chart points."""
    _admin()
    evaluation_path, evaluation = evaluation_points(job_settings().evaluation)
    return jsonify(
        {
            "runs": run_points(_queue().recent(MAX_LIST)),
            "evaluation": {"path": str(evaluation_path) if evaluation_path else None, "points": evaluation},
        }
    )

