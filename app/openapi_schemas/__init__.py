"""The request, response and error schemas of ``/openapi.json``, one module per dialect.

They document the wire formats without validating anything: each dialect checks its own
input and answers in its own error format, which flask-smorest's ``@blp.arguments`` would
replace with its 422. ``OPERATIONS`` maps (OpenAPI path, method) to the operation's
documentation; ``SCHEMAS`` are the named component schemas those refer to.
"""

from __future__ import annotations

from app.openapi_schemas import admin, azure, bigml, inference
from app.openapi_schemas.common import Operation

MODULES = (admin, bigml, azure, inference)
SCHEMAS: dict[str, dict] = {name: schema for module in MODULES for name, schema in module.SCHEMAS.items()}
OPERATIONS: dict[tuple[str, str], Operation] = {key: op for module in MODULES for key, op in module.OPERATIONS.items()}
