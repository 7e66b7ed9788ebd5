"""The operator's defence-tuning page (``GET /ui``) and its favicon: plain Flask, outside the OpenAPI document.

The page itself is public and holds no secrets; it calls the admin JSON endpoints
with the admin key the operator pastes into it. Its step editor is built from
``GET /ui/defense-steps`` (the defence step registry), so a new defence step shows
up on the page without touching it.
"""

from __future__ import annotations

from flask import jsonify, redirect, render_template, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from app.core.service import bearer_key, services
from app.web.blueprint import bp
from defenses import describe_steps


@bp.get("")
def defense_page() -> ResponseReturnValue:
    """The defence-tuning page."""
    return render_template("defense.html")


@bp.get("/models")
def model_names() -> ResponseReturnValue:
    """Names of the models the admin can see (admin key only)."""
    principal = services().authenticate(bearer_key())
    services().accounts.require_admin(principal)
    return jsonify([model.name for model in services().registry.visible(principal)])


@bp.get("/defense-steps")
def defense_steps() -> ResponseReturnValue:
    """The defence steps a spec may use, with their parameters (name, type, range, default,
    companion keys, description). Public: it describes the code, not anyone's settings."""
    return jsonify(describe_steps())


def favicon() -> ResponseReturnValue:
    """Browsers ask for ``/favicon.ico`` whatever the page says: send them to the page's own icon."""
    return redirect(url_for("web.static", filename="favicon.svg"), code=301)


@bp.record_once
def _favicon_at_the_root(state: BlueprintSetupState) -> None:
    state.app.add_url_rule("/favicon.ico", "favicon", favicon)
