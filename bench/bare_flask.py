"""The baseline of ``bigml_single_row``: a bare Flask endpoint returning a precomputed answer.

Served by the same gunicorn configuration as the service, so the ratio measures
what our stack (auth, limits, encoding, tree walk, defence, query log, the BigML
prediction object) costs per request. ``BARE_FLASK_ANSWER`` names a JSON file
holding the answer to return (the service's own answer to the same request).
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)
ANSWER = Path(os.environ["BARE_FLASK_ANSWER"]).read_bytes()


@app.get("/v2/health/ready")
def ready() -> Response:
    return Response(b'{"ready": true}', mimetype="application/json")


@app.post("/prediction")
def prediction() -> Response:
    return Response(ANSWER, status=201, mimetype="application/json")
