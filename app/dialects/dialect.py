"""What the application factory takes from a dialect module: its routes and its error formats."""

from __future__ import annotations

from dataclasses import dataclass

from flask_smorest import Blueprint

from app.errors import Renderers


@dataclass(frozen=True)
class Dialect:
    """A wire dialect as ``create_app`` registers it (``DIALECT`` in each dialect module).

    ``renderers`` claim URL prefixes for the dialect's error format; errors on other
    paths get the generic ``{"error": {"code", "message"}}``.
    """

    blueprint: Blueprint
    renderers: Renderers = ()
