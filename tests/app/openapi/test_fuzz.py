"""The OpenAPI document against the service: fuzzed bodies, parameters and headers find no 5xx
and no answer outside the document (status, content type, body schema, headers)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from tests.app.openapi.fuzzing import DIALECTS, Tally, fuzz, load_schema, operations
from tests.conftest import ADMIN_KEY, MODEL_CACHE, data_dir

# CI: 25 cases per operation (positive and negative), about 1,000 requests in all, under
# a minute on two cores. The slow run: at least 5,000 per dialect.
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
def model_names(fuzz_app) -> list[str]:
    return sorted(fuzz_app.extensions["mlaas"].registry.builtins)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_fuzzed_requests_get_documented_answers(schema, model_names, dialect) -> None:
    tally = Tally()
    for operation in operations(schema, dialect):
        fuzz(operation, model_names, CI_EXAMPLES, tally)
    assert set(tally.by_operation) == {op.label for op in operations(schema, dialect)}
    assert tally.server_errors == 0


@pytest.mark.slow
@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_slow_fuzz(schema, model_names, dialect) -> None:
    found = operations(schema, dialect)
    per_operation = -(-SLOW_EXAMPLES_PER_DIALECT // len(found))
    tally = Tally()
    start = time.perf_counter()
    for operation in found:
        fuzz(operation, model_names, per_operation, tally)
    seconds = time.perf_counter() - start
    print(f"\n{dialect}: {tally.requests} requests over {len(found)} operations, "
          f"{tally.server_errors} 5xx, {seconds:.0f} s, statuses {dict(sorted(tally.statuses.items()))}")
    assert tally.requests >= SLOW_EXAMPLES_PER_DIALECT
    assert tally.server_errors == 0
