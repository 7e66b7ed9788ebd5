"""The page's blueprint, shared by the page routes and its JSON API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")
