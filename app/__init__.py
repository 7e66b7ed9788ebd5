"""The prediction service: ``create_app(config)`` builds it, gunicorn serves it."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any

from flask import Flask

from app import bootstrap, errors, transport, web
from app.config import INSTANCE_PATH, from_environment
from app.core.accounts import Accounts
from app.core.defense_config import DefenseConfig
from app.core.limits import Limits
from app.core.querylog import QueryLog
from app.core.registry import Registry
from app.core.service import Services, install_query_logging
from app.dialects.dialect import Dialect
from app.openapi import make_api

DIALECT_MODULES = ("admin", "bigml", "azure", "inference")
"""Every wire dialect the service speaks: modules of ``app.dialects``, each exporting ``DIALECT``."""


def dialects() -> tuple[Dialect, ...]:
    """Each dialect's routes and, under its URL prefixes, its error format."""
    return tuple(import_module(f"app.dialects.{name}").DIALECT for name in DIALECT_MODULES)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory: settings from the environment, overridden by ``config``."""
    app = Flask(__name__, instance_path=str(INSTANCE_PATH))
    INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    app.config.update(from_environment(INSTANCE_PATH, config))
    transport.check()
    settings = app.config

    engine = bootstrap.prepare_database(settings)
    accounts = Accounts(
        engine,
        default_budget=settings["DEFAULT_ROW_BUDGET"] or None,
        default_rate=settings["DEFAULT_RATE_LIMIT"] or None,
    )
    defenses = DefenseConfig(engine, settings["DEFENSE_REFRESH_SECONDS"])
    app.extensions["mlaas"] = Services(
        accounts=accounts,
        limits=Limits(engine, settings["RATE_WINDOW_SECONDS"]),
        query_log=QueryLog(engine, settings["QUERY_LOG_FLUSH_SECONDS"]),
        defenses=defenses,
        registry=Registry(engine, bootstrap.load_models(settings), bootstrap.defended_entries(settings)),
        max_rows=settings["MAX_ROWS_PER_REQUEST"],
        disclose_defense=settings["DISCLOSE_DEFENSE"],
        noise_secret=bootstrap.noise_secret(settings),
    )
    install_query_logging(app)
    api = make_api(app)
    registered = dialects()
    for dialect in registered:
        api.register_blueprint(dialect.blueprint)
    app.register_blueprint(web.bp)
    errors.install(app, tuple(entry for dialect in registered for entry in dialect.renderers))
    return app
