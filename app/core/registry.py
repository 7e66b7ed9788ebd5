"""Which models exist and who may see them: built-ins for all, uploads for their owner."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from sqlalchemy import Engine, select

from app.core.accounts import Principal
from app.core.errors import Forbidden, NotFound
from app.storage.rows import replace
from app.storage.tables import model_settings, uploaded_models
from app.zoo import model_from_bytes
from app.zoo.base import ServedModel

FLAG_CACHE_SECONDS = 1.0


class Registry:
    """Built-in models held in memory; uploaded ones read from the database once per worker."""

    def __init__(self, engine: Engine, builtins: Mapping[str, ServedModel]) -> None:
        self.engine = engine
        self.builtins = dict(builtins)
        self._uploaded: dict[str, ServedModel] = {}
        self._flags: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def get(self, principal: Principal, name: str) -> ServedModel:
        """The model called ``name`` (or with that upload id) visible to ``principal``; else 404."""
        if name in self.builtins:
            return self.builtins[name]
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
