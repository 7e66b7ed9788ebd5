"""HTTP clients of the prediction service, one per wire dialect.

Each sees the service only as an adversary does (its URL, an API key, a model
name) and implements the ``Oracle`` protocol (``classes``, ``predict_proba``),
plus ``predict_records`` for tree models and, where the dialect offers it,
``download_model``.
"""

from __future__ import annotations

from typing import Any

from attack_clients.clients.azure import AzureClient
from attack_clients.clients.base import ApiError, DownloadForbidden, HttpClient, RetryPolicy
from attack_clients.clients.bigml import BigMLClient
from attack_clients.clients.v2 import V2Client

DIALECTS = ("v2", "bigml", "azure", "azure-classic")

__all__ = [
    "DIALECTS",
    "ApiError",
    "AzureClient",
    "BigMLClient",
    "DownloadForbidden",
    "HttpClient",
    "RetryPolicy",
    "V2Client",
    "connect",
]


def connect(url: str, key: str, model: str, dialect: str = "v2", **options: Any) -> HttpClient:
    """A client for ``model`` at ``url`` speaking ``dialect`` (one of ``DIALECTS``).

    ``options`` go to the client: ``max_rows``, ``batch_size``, ``timeout``,
    ``retry``, ``progress``; ``username`` (BigML); ``workspace`` (classic Azure).
    """
    if dialect == "v2":
        return V2Client(url, key, model, **options)
    if dialect == "bigml":
        return BigMLClient(url, key, model, **options)
    if dialect in ("azure", "azure-classic"):
        return AzureClient(url, key, model, classic=dialect == "azure-classic", **options)
    raise ValueError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
