"""What every dialect's client shares: one HTTP session, retries, a row budget, costs.

Accounting (``stats``): ``queries`` and ``rows`` count prediction requests that
the server answered; ``bytes_sent``, ``bytes_received`` (request and response
bodies) and ``seconds`` (wall time, retry waits included) cover every HTTP
request the client makes, metadata and model downloads included, because an
attack pays for those too. Requests sent concurrently each add their own
seconds, so ``seconds`` can exceed the wall time of a call.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sized
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import requests
from tqdm.auto import tqdm

from attack_clients.oracle import QueryBudgetExceeded, QueryStats


class ApiError(Exception):
    """The server refused a request; ``message`` is the server's own explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class DownloadForbidden(ApiError):
    """The operator switched off downloads of this model (403): black-box only."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries for 429, 5xx and connection errors.

    Waits double from ``backoff`` up to ``max_wait``; a 429's ``Retry-After`` is
    honoured as given, unless it exceeds ``max_wait`` (a spent budget or a long
    ban), which is raised at once instead of sleeping through it.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_wait: float = 30.0

    def wait(self, attempt: int) -> float:
        return min(self.max_wait, self.backoff * 2**attempt)


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def server_message(response: requests.Response) -> str:
    """The human message in any of the dialects' error bodies, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason or "no message"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        status = body.get("status")
        if isinstance(status, dict) and "message" in status:
            return str(status["message"])
        if "message" in body:
            return str(body["message"])
    return json.dumps(body)[:500]


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date)."""
    raw = response.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def auto_batch_size(n_features: int) -> int:
    """Rows per request: 512 for 10304-pixel faces, more for narrower rows (<= 8192)."""
    return max(1, min(8192, 5_275_648 // max(1, n_features)))


def even_chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into the fewest pieces of at most ``size`` rows, as equal as possible.

    Concurrent requests finish together only when they are the same size.
    """
    count = math.ceil(n / size)
    edges = [round(i * n / count) for i in range(count + 1)]
    return list(itertools.pairwise(edges))


Answer = tuple[np.ndarray, np.ndarray]


class HttpClient:
    """Base of the dialect clients: session, retries, budget and cost accounting."""

    dialect: ClassVar[str] = ""

    def __init__(
        self,
        url: str,
        key: str,
        model: str,
        *,
        max_rows: int | None = None,
        batch_size: int | None = None,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        progress: bool = False,
        concurrency: int = 2,
    ) -> None:
        self.url = (url if "://" in url else f"http://{url}").rstrip("/")
        self.key = key
        self.model = model
        self.max_rows = max_rows
        self.batch_size = batch_size
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.progress = progress
        self.concurrency = concurrency
        self.stats = QueryStats()
        self._stats_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"
        self._v2_metadata: dict[str, Any] | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self.session.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what every client offers -------------------------------------------------

    def model_metadata(self) -> dict[str, Any]:
        """``GET /v2/models/<name>``: the public schema (same key, any dialect)."""
        if self._v2_metadata is None:
            self._v2_metadata = self._request("GET", f"/v2/models/{self.metadata_name()}").json()
        return self._v2_metadata

    def metadata(self) -> dict[str, Any]:
        """The model's ``parameters``: kind, classes, fields, sensitive, row indices..."""
        return dict(self.model_metadata().get("parameters") or {})

    def metadata_name(self) -> str:
        """The name the v2 endpoint knows the model by."""
        return self.model

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.metadata()["classes"]]

    def field_names(self) -> list[str]:
        """Input field names of a tree model, in the server's order."""
        return [str(f["name"]) for f in self.metadata().get("fields", [])]

    # --- plumbing -----------------------------------------------------------------

    def _reserve(self, rows: int) -> None:
        """Refuse, before anything is sent, a call that would pass the row budget."""
        if self.max_rows is not None and self.stats.rows + rows > self.max_rows:
            raise QueryBudgetExceeded(
                f"{rows} more rows would exceed the budget of {self.max_rows} ({self.stats.rows} used)"
            )

    def _rows_bar(self, total: int) -> tqdm:
        return tqdm(
            total=total, unit="row", desc=f"{self.dialect} {self.model}", disable=not self.progress, leave=False
        )

    def _batched(self, n: int, width: int, send: Callable[[int, int], Answer]) -> Answer:
        """Rows ``[0, n)`` in requests of ``batch_size`` rows (auto from ``width``).

        ``send(start, stop)`` answers one batch. With ``concurrency`` > 1 the
        requests of one call go out together on that many connections (the
        service has several workers, and the client prepares nothing between
        them). A 413 (body too large) halves the batch size for the rows not yet
        answered, sent one request at a time, instead of failing the attack.
        """
        self._reserve(n)
        size = self.batch_size or auto_batch_size(width)
        answered: dict[int, tuple[int, Answer]] = {}
        with self._rows_bar(n) as bar:
            if self.concurrency > 1 and n > size:
                bounds = (
                    even_chunks(n, size)
                    if self.batch_size is None
                    else [(a, min(n, a + size)) for a in range(0, n, size)]
                )
                if self._concurrently(bounds, send, bar, answered):
                    size = max(1, size // 2)
            self._one_by_one(n, size, send, bar, answered)
        if not answered:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(self.classes)))
        answers = [answered[start][1] for start in sorted(answered)]
        return np.concatenate([a[0] for a in answers]), np.concatenate([a[1] for a in answers])

    def _concurrently(
        self,
        bounds: list[tuple[int, int]],
        send: Callable[[int, int], Answer],
        bar: tqdm,
        answered: dict[int, tuple[int, Answer]],
    ) -> bool:
        """Send every batch at once; True if some came back 413 (left unanswered)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.dialect}-client")
        futures: dict[Future[Answer], tuple[int, int]] = {self._pool.submit(send, a, b): (a, b) for a, b in bounds}
        too_large = False
        for future in as_completed(futures):
            error = future.exception()
            if isinstance(error, ApiError) and error.status == 413:
                too_large = True
            elif error is not None:
                wait(futures)
                raise error
            else:
                start, stop = futures[future]
                answered[start] = (stop, future.result())
                bar.update(stop - start)
        return too_large

    def _one_by_one(
        self, n: int, size: int, send: Callable[[int, int], Answer], bar: tqdm, answered: dict[int, tuple[int, Answer]]
    ) -> None:
        """Answer the rows of ``[0, n)`` that ``answered`` lacks, one request at a time."""
        start = 0
        while start < n:
            if start in answered:
                start = answered[start][0]
                continue
            stop = min([n, start + size, *(a for a in answered if a > start)])
            try:
                answer = send(start, stop)
            except ApiError as exc:
                if exc.status != 413 or stop - start == 1:
                    raise
                size = max(1, (stop - start) // 2)
                continue
            answered[start] = (stop, answer)
            bar.update(stop - start)
            start = stop

    def _count(self, **increments: float) -> None:
        """Add to ``stats`` (requests of one call may run on several threads)."""
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def _request(
        self,
        method: str,
        path: str,
        *,
        rows: int | None = None,
        data: bytes | Sized | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One logical request, retried per ``retry``; ``rows`` marks a prediction.

        Raises ``ApiError`` for any other non-2xx answer (``DownloadForbidden``
        is raised by callers that know a 403 means that).
        """
        if json_body is not None:
            data = json.dumps(json_body, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        if rows is not None:
            self._reserve(rows)
        started = time.perf_counter()
        attempt = 0
        try:
            while True:
                last = attempt + 1 >= self.retry.attempts
                self._count(bytes_sent=len(data) if data is not None else 0)
                try:
                    response = self.session.request(
                        method, self.url + path, data=data, headers=headers, params=params, timeout=self.timeout
                    )
                except (requests.ConnectionError, requests.Timeout):
                    if last:
                        raise
                    time.sleep(self.retry.wait(attempt))
                    attempt += 1
                    continue
                self._count(bytes_received=len(response.content))
                if response.status_code < 400:
                    if rows is not None:
                        self._count(queries=1, rows=rows)
                    return response
                if response.status_code not in RETRY_STATUSES or last:
                    raise ApiError(response.status_code, server_message(response))
                wait = self.retry.wait(attempt)
                if response.status_code == 429:
                    after = retry_after_seconds(response)
                    if after is not None and after > self.retry.max_wait:
                        raise ApiError(429, f"{server_message(response)} (Retry-After {after:.0f} s is past our limit)")
                    wait = wait if after is None else after
                time.sleep(wait)
                attempt += 1
        finally:
            self._count(seconds=time.perf_counter() - started)


def class_indices(labels: list[str], classes: list[str], probabilities: np.ndarray) -> np.ndarray:
    """Returned label names as class indices; the argmax where a label is absent or unknown."""
    index = {c: i for i, c in enumerate(classes)}
    fallback = probabilities.argmax(axis=1)
    if len(labels) != len(fallback):
        return fallback.astype(np.int64)
    return np.array([index.get(label, fallback[i]) for i, label in enumerate(labels)], dtype=np.int64)


MISSING_TOKENS = frozenset(
    {"", "N/A", "n/a", "NULL", "null", "-", "#DIV/0", "#REF!", "#NAME?", "NIL", "nil", "NA", "na"}
    | {"#VALUE!", "#NULL!", "NaN", "#N/A", "#NUM!", "?"}
)
"""BigML's default missing-value tokens: the service reads these answers as blanks too."""


def is_missing(value: Any) -> bool:
    """None, NaN, or a blank or missing-token string: "not answered" in a record."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and value.strip() in MISSING_TOKENS
