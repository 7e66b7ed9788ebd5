"""Schemathesis against the app in-process: every operation of a dialect, positive and negative data.

Each case is sent with the admin key (so that the checks reach the body's validation) and
its answer checked: no 5xx, a documented status and content type, a body and headers that
match the document. Model names in the path are drawn from the served models as often as
generated ones, so that bodies reach a model rather than stopping at a 404.
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


def _strategy(operation: Any, model_names: list[str]) -> st.SearchStrategy:
    """Positive and negative cases; those with a model parameter also with each served model's name."""
    parameters = [p.name for p in operation.path_parameters if p.name in MODEL_PARAMETERS]
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        strategies += [
            operation.as_strategy(generation_mode=mode, path_parameters={parameters[0]: name})
            for name in model_names
            if parameters
        ]
    return st.one_of(strategies)


def fuzz(operation: Any, model_names: list[str], max_examples: int, tally: Tally) -> None:
    """Run ``max_examples`` cases against ``operation``; any failed check fails (and shrinks)."""

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, model_names))
    def run(case: Any) -> None:
        response = case.call(headers=AUTH)
        tally.statuses[response.status_code] += 1
        tally.by_operation[operation.label] += 1
        case.validate_response(response, checks=CHECKS)

    run()
