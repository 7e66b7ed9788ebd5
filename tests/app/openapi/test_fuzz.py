"""The OpenAPI document against the service: fuzzed bodies, parameters and headers find no 5xx
and no answer outside the document (status, content type, body schema, headers)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from app.dialects.bigml_resources import resource_of
from tests.app.openapi.fuzzing import DIALECTS, Served, Tally, fuzz, load_schema, operations
from tests.conftest import ADMIN_KEY, MODEL_CACHE, data_dir

# CI: 25 cases per operation (positive and negative), about 1,100 requests, 20-50 s on two shared
# cores (the utility operations evaluate real models); a few hundred per operation would take minutes.
# -m slow: 5,000 per dialect.
CI_EXAMPLES = 25
SLOW_EXAMPLES_PER_DIALECT = 5000


@pytest.fixture(scope="module")
def fuzz_app():
    """An app of its own: admin operations fuzzed with the admin key change users and defences."""
    from app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        yield create_app(
            {
                "DATABASE_URL": f"sqlite:///{Path(tmp) / 'fuzz.sqlite3'}",
                "ADMIN_KEY": ADMIN_KEY,
                "DATA_DIR": data_dir(),
                "CACHE_DIR": MODEL_CACHE,
                "TESTING": True,
            }
        )


@pytest.fixture(scope="module")
def schema(fuzz_app):
    return load_schema(fuzz_app)


@pytest.fixture(scope="module")
def served(fuzz_app) -> Served:
    models = sorted(fuzz_app.extensions["mlaas"].registry.builtins.items())
    return Served([name for name, _ in models], [resource_of(model) for _, model in models])


def _inputs(operation) -> int:
    return sum(len(part) for part in (operation.body, operation.path_parameters, operation.query, operation.headers))


def fuzz_dialect(schema, served: Served, dialect: str, total: int) -> Tally:
    """About ``total`` cases over the operations of ``dialect``; prints what was sent (``-s`` shows it).

    Operations with few inputs go first: when Hypothesis runs out of distinct cases for one
    (a health check has a handful), the operations after it share what it left.
    """
    found = sorted(operations(schema, dialect), key=_inputs)
    tally = Tally()
    start = time.perf_counter()
    for done, operation in enumerate(found):
        fuzz(operation, served, -(-(total - tally.requests) // (len(found) - done)), tally)
    print(f"\n{dialect}: {tally.requests} requests over {len(found)} operations, {tally.server_errors} 5xx, "
          f"{time.perf_counter() - start:.0f} s, statuses {dict(sorted(tally.statuses.items()))}")
    assert set(tally.by_operation) == {op.label for op in found}
    return tally


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_fuzzed_requests_get_documented_answers(schema, served, dialect) -> None:
    total = CI_EXAMPLES * len(operations(schema, dialect))
    assert fuzz_dialect(schema, served, dialect, total).server_errors == 0


@pytest.mark.slow
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_slow_fuzz(schema, served, dialect) -> None:
    tally = fuzz_dialect(schema, served, dialect, SLOW_EXAMPLES_PER_DIALECT)
    assert tally.requests >= SLOW_EXAMPLES_PER_DIALECT
    assert tally.server_errors == 0
