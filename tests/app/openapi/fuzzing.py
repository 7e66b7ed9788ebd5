"""Schemathesis against the app in-process: every operation of a dialect, positive and negative data.

Each case is sent with the admin key (so that the checks reach the body's validation) and
its answer checked: no 5xx, a documented status and content type, a body and headers that
match the document. Negative cases include requests without the key (Schemathesis drops the
Authorization header to test security). Half the cases name a served model wherever a request
names one (path and v2 version, Azure's deployment header, BigML's ``model``), so that bodies reach a model
rather than stopping at a 404.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_KEY

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
DIALECTS = {
    "admin": ("/admin",),
    "bigml": ("/andromeda", "/prediction"),
    "azure": ("/workspaces", "/score"),
    "inference": ("/v2", "/v1"),
}
MODEL_PARAMETERS = ("model_name", "service", "name")
DEPLOYMENT_HEADER = "azureml-model-deployment"
MODEL_VERSION = "1"  # the one version v2 serves
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Tally:
    """Requests sent and their statuses, per operation."""

    statuses: Counter = field(default_factory=Counter)
    by_operation: Counter = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def load_schema(app) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def operations(schema: Any, dialect: str) -> list[Any]:
    prefixes = DIALECTS[dialect]
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if op.path.startswith(prefixes)]


@dataclass(frozen=True)
class Served:
    """The built-in models: names (v2, v1, Azure, admin) and BigML resource ids, in the same order."""

    names: list[str]
    bigml_ids: list[str]


def _serve(case: Any, index: int | None, served: Served) -> Any:
    """Point ``case`` at the served model ``index`` wherever it names a model (None: leave it)."""
    if index is None:
        return case
    for name in MODEL_PARAMETERS:
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = served.names[index]
    if "version" in (case.path_parameters or {}):
        case.path_parameters["version"] = MODEL_VERSION
    if case.operation.path == "/score":
        case.headers = {**(case.headers or {}), DEPLOYMENT_HEADER: served.names[index]}
    if case.operation.path.endswith("/prediction") and isinstance(case.body, dict):
        case.body = {**case.body, "model": served.bigml_ids[index]}
    return case


def _strategy(operation: Any, served: Served) -> st.SearchStrategy:
    cases = st.one_of([operation.as_strategy(generation_mode=mode) for mode in GenerationMode])
    models = st.one_of(st.none(), st.sampled_from(range(len(served.names))))
    return st.tuples(cases, models).map(lambda pair: _serve(pair[0], pair[1], served))


def fuzz(operation: Any, served: Served, max_examples: int, tally: Tally) -> None:
    """Run ``max_examples`` cases against ``operation``; any failed check fails (and shrinks)."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, served))
    def run(case: Any) -> None:
        response = case.call(headers=AUTH)
        tally.statuses[response.status_code] += 1
        tally.by_operation[operation.label] += 1
        case.validate_response(response, checks=CHECKS)

    run()
