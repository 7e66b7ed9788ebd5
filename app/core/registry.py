"""Which models exist and who may see them: built-ins for all, uploads for their owner."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sqlalchemy import Engine, select

from app.core.accounts import Principal
from app.core.errors import ApiError, Forbidden, NotFound
from app.storage.rows import replace
from app.storage.tables import model_settings, uploaded_models
from app.zoo import model_from_bytes
from app.zoo.base import ServedModel
from app.zoo.defended.store import FAILED, READY, Entry
from app.zoo.split_network import service_stages, with_split

FLAG_CACHE_SECONDS = 1.0
POLL_SECONDS = 1.0
"""How often at most a worker looks in the cache for defended models that finished training."""
RETRY_AFTER_SECONDS = 30


class ModelNotReady(ApiError):
    """A prediction (or download) of a model still training: 503 with ``Retry-After``, nothing charged."""

    status = 503
    title = "Service Unavailable"


def model_state(model: ServedModel) -> str:
    """``ready``, or a defended model's ``queued`` / ``training`` / ``failed``."""
    return model.metadata.get("state", READY)


@dataclass(kw_only=True)
class PendingModel(ServedModel):
    """A defended model not trained yet: its base model's schema, no weights.

    Listings and metadata show it with its state; anything that needs its weights
    raises ``ModelNotReady`` (``check_inputs`` runs before a budget is charged).
    """

    base: ServedModel

    platform: ClassVar[str] = "numpy_dense"

    def _not_ready(self) -> ModelNotReady:
        state = model_state(self)
        why = f" ({self.metadata['failure']})" if state == FAILED and self.metadata.get("failure") else ""
        retry = None if state == FAILED else RETRY_AFTER_SECONDS
        return ModelNotReady(f"model {self.name!r} is not ready: its training is {state}{why}", retry_after=retry)

    def check_inputs(self, X: np.ndarray) -> str | None:
        raise self._not_ready()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        raise self._not_ready()

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.base.encode_records(records)

    def heldout(self) -> tuple[np.ndarray, np.ndarray]:
        raise self._not_ready()

    def export(self) -> dict[str, Any]:
        raise self._not_ready()


def _pending(entry: Entry, base: ServedModel) -> PendingModel:
    variant = entry.variant
    return PendingModel(
        name=entry.name,
        kind=base.kind,
        classes=list(base.classes),
        fields=base.fields,
        objective=base.objective,
        description=f"{base.description}; training defence: {variant.summary} (not trained yet)",
        metadata={
            "dataset": base.metadata.get("dataset"),
            "state": entry.state()[0],
            "base_model": variant.base_model,
            "training_defense": variant.summary,
            "training_defense_params": {"kind": variant.defense, **variant.params},
        },
        image_shape=base.image_shape,
        base=base,
    )


class Registry:
    """Built-in models held in memory; uploaded ones read from the database once per worker.

    Defended models still training are ``PendingModel`` placeholders among the built-ins;
    each worker swaps in the trained model once its cache file exists (looking at most
    every ``POLL_SECONDS``), so no restart is needed.
    """

    def __init__(self, engine: Engine, builtins: Mapping[str, ServedModel], defended: Sequence[Entry] = ()) -> None:
        self.engine = engine
        self._builtins = dict(builtins)
        self._waiting: dict[str, Entry] = {}
        for entry in defended:
            base = self._builtins.get(entry.variant.base_model)
            if base is not None:
                self._builtins[entry.name] = _pending(entry, base)
                self._waiting[entry.name] = entry
        self._polled = time.monotonic()
        self._uploaded: dict[str, ServedModel] = {}
        self._flags: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._poll()

    @property
    def builtins(self) -> dict[str, ServedModel]:
        """The built-in models by name, defended ones that finished training swapped in."""
        if self._waiting and time.monotonic() - self._polled >= POLL_SECONDS:
            self._poll()
        return self._builtins

    def _poll(self) -> None:
        if not self._poll_lock.acquire(blocking=False):
            return  # another thread is looking
        try:
            self._polled = time.monotonic()
            for name, entry in list(self._waiting.items()):
                state, failure = entry.state()
                placeholder = self._builtins[name]
                if state == READY:
                    model = with_split(entry.load())
                    self._builtins = {**self._builtins, name: model, **service_stages({name: model})}
                    del self._waiting[name]
                else:
                    metadata = {key: value for key, value in placeholder.metadata.items() if key != "failure"}
                    placeholder.metadata = {**metadata, "state": state, **({"failure": failure} if failure else {})}
        finally:
            self._poll_lock.release()

    def get(self, principal: Principal, name: str) -> ServedModel:
        """The model called ``name`` (or with that upload id) visible to ``principal``; else 404."""
        builtins = self.builtins
        if name in builtins:
            return builtins[name]
        ident = name.removeprefix("model/")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(uploaded_models.c.id)
                .where(uploaded_models.c.owner_id == principal.user_id)
                .where((uploaded_models.c.name == name) | (uploaded_models.c.id == ident))
                .order_by(uploaded_models.c.created_at.desc())
            ).first()
        if row is None:
            raise NotFound(f"no model {name!r}")
        return self.uploaded(row.id)

    def uploaded(self, model_id: str) -> ServedModel:
        with self._lock:
            cached = self._uploaded.get(model_id)
        if cached is not None:
            return cached
        with self.engine.connect() as conn:
            row = conn.execute(select(uploaded_models.c.blob).where(uploaded_models.c.id == model_id)).first()
        if row is None:
            raise NotFound(f"no model {model_id!r}")
        model = model_from_bytes(row.blob)
        with self._lock:
            self._uploaded[model_id] = model
        return model

    def visible(self, principal: Principal) -> list[ServedModel]:
        with self.engine.connect() as conn:
            ids = conn.execute(
                select(uploaded_models.c.id)
                .where(uploaded_models.c.owner_id == principal.user_id)
                .order_by(uploaded_models.c.created_at)
            ).scalars().all()
        return [*self.builtins.values(), *(self.uploaded(i) for i in ids)]

    def downloadable_cached(self, model: ServedModel) -> bool:
        """``downloadable``, remembered per worker for ``FLAG_CACHE_SECONDS``: for the
        per-prediction hot path (BigML's prediction path), never for the download itself."""
        key = model.upload_id or model.name
        now = time.monotonic()
        cached = self._flags.get(key)
        if cached is None or now - cached[0] > FLAG_CACHE_SECONDS:
            cached = (now, self.downloadable(model))
            self._flags[key] = cached
        return cached[1]

    def downloadable(self, model: ServedModel) -> bool:
        """Whether the white-box download is on, read from the database."""
        with self.engine.connect() as conn:
            if model.owner is None:
                flag = conn.execute(
                    select(model_settings.c.downloadable).where(model_settings.c.name == model.name)
                ).scalar()
            else:
                flag = conn.execute(
                    select(uploaded_models.c.downloadable).where(
                        uploaded_models.c.id == model.upload_id
                    )
                ).scalar()
        return True if flag is None else bool(flag)

    def require_download(self, model: ServedModel) -> None:
        if not self.downloadable(model):
            raise Forbidden(f"the operator has switched off downloads of {model.name!r} (black-box only)")

    def set_downloadable(self, name: str, flag: bool) -> None:
        if name not in self.builtins:
            raise NotFound(f"no built-in model {name!r}")
        with self.engine.begin() as conn:
            replace(conn, model_settings, {"name": name}, {"downloadable": flag})
        self._flags.pop(name, None)
