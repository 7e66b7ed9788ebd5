"""The operator's defence-tuning page (``/ui``) and the JSON it reads (``/ui/api``), outside the OpenAPI document.

The page is public and holds no secret: every call it makes carries the admin
key the operator pastes into it, and everything it renders is set as text.
"""

from __future__ import annotations

from app.web import api, pages
from app.web.blueprint import bp

__all__ = ["api", "bp", "pages"]
