"""Row budgets and rate limits, counted in the database so every worker shares them."""

from __future__ import annotations

import math
import time

from sqlalchemy import Engine, case

from app.core.accounts import Principal
from app.core.errors import TooManyRequests
from app.storage.tables import users

# A spent budget never refills by itself (an operator raises it), so clients are told to wait
# long: well-behaved ones stop rather than retry (ours give up past their longest wait).
BUDGET_RETRY_AFTER = 3600


class Limits:
    """Atomic conditional UPDATEs: a request is admitted only if the counter allows it."""

    def __init__(self, engine: Engine, window_seconds: int) -> None:
        self.engine = engine
        self.window = max(1, window_seconds)

    def admit(self, principal: Principal, rows: int) -> None:
        """Charge ``rows`` to the principal's budget and one request to its rate window."""
        if principal.rate_limit is None and principal.row_budget is None:
            return
        with self.engine.begin() as conn:
            if principal.rate_limit is not None:
                now = time.time()
                window = int(now // self.window)
                admitted = conn.execute(
                    users.update()
                    .where(users.c.id == principal.user_id)
                    .where((users.c.rate_window_start != window) | (users.c.rate_count < principal.rate_limit))
                    .values(
                        rate_count=case((users.c.rate_window_start == window, users.c.rate_count + 1), else_=1),
                        rate_window_start=window,
                    )
                ).rowcount
                if not admitted:
                    retry = math.ceil((window + 1) * self.window - now)
                    raise TooManyRequests(
                        f"rate limit of {principal.rate_limit} requests per {self.window} s exceeded",
                        retry_after=max(1, retry),
                    )
            if principal.row_budget is not None:
                admitted = conn.execute(
                    users.update()
                    .where(users.c.id == principal.user_id)
                    .where(users.c.rows_used + rows <= users.c.row_budget)
                    .values(rows_used=users.c.rows_used + rows)
                ).rowcount
                if not admitted:
                    raise TooManyRequests(
                        f"query budget of {principal.row_budget} rows exhausted (this request has {rows} rows)",
                        retry_after=BUDGET_RETRY_AFTER,
                    )
