"""Uploaded sources, datasets and models: BigML's create flow, as behaviour.

A source is the CSV text as uploaded; a dataset is a source with a summary of
its columns; a model is a tree the zoo trains on a dataset's CSV. Every resource
belongs to the user who created it, and another user's id is a 404, exactly as
if it did not exist. Training is synchronous (the trees are small), so every
resource is finished by the time its create call answers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import secrets
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.exc import IntegrityError

from app.core.accounts import Principal
from app.core.errors import BadRequest, NotFound
from app.core.registry import Registry
from app.storage.tables import datasets, sources, uploaded_models
from app.zoo import MISSING_TOKENS, model_to_bytes, train_tree_from_csv
from app.zoo.base import InputError, ServedModel
from app.zoo.uploads import read_csv_table

MAX_NAME = 256


def new_id() -> str:
    """A BigML-shaped id: 24 lowercase hex digits."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class Column:
    """One CSV column as a dataset summarises it (the zoo's reading of the same text)."""

    name: str
    optype: str
    missing_count: int
    categories: tuple[tuple[str, int], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class SourceRecord:
    id: str
    name: str
    created_at: float
    size: int
    columns: tuple[str, ...]
    rows: int


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    source_id: str
    name: str
    created_at: float
    rows: int
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class ModelRecord:
    id: str
    dataset_id: str
    source_id: str
    name: str
    created_at: float
    model: ServedModel


def parse_csv(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV upload, checked as training will read it; anything a tree cannot learn from is a 400."""
    try:
        return read_csv_table(text)
    except InputError as exc:
        raise BadRequest(str(exc)) from exc


def summarise(header: Sequence[str], rows: Sequence[Sequence[str]]) -> tuple[Column, ...]:
    """Per column: numeric when every present value is a finite number, else categorical."""
    columns = []
    for index, name in enumerate(header):
        present = [row[index].strip() for row in rows if row[index].strip() not in MISSING_TOKENS]
        numbers = _numbers(present)
        missing = len(rows) - len(present)
        if numbers is not None and numbers:
            columns.append(
                Column(name, "numeric", missing, minimum=min(numbers), maximum=max(numbers),
                       mean=sum(numbers) / len(numbers))
            )
        else:
            counts = Counter(present)
            ordered = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
            columns.append(Column(name, "categorical", missing, categories=ordered))
    return tuple(columns)


def _numbers(values: Sequence[str]) -> list[float] | None:
    out = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        out.append(number)
    return out


def decode_csv(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the upload is not UTF-8 text: {exc}") from exc


def rows_to_csv(rows: list[Any]) -> str:
    """Inline data as the bindings send it (a list of dicts, or a header row then lists) to CSV."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if rows and all(isinstance(row, dict) for row in rows):
        header = list(dict.fromkeys(key for row in rows for key in row))
        writer.writerow(header)
        writer.writerows([_cell(row.get(key)) for key in header] for row in rows)
    elif rows and all(isinstance(row, list) for row in rows):
        writer.writerows([_cell(value) for value in row] for row in rows)
    else:
        raise BadRequest("inline data must be CSV text, or a JSON list of objects or of lists")
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        raise BadRequest("inline data values must be strings, numbers or null")
    return str(value)


def check_name(name: Any, default: str | None = None) -> str | None:
    """A resource name as given (trimmed), or ``default`` when none was."""
    if name is None:
        return default
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise BadRequest(f"name must be a non-empty string of at most {MAX_NAME} characters")
    return name.strip()


class Uploads:
    """Sources, datasets and uploaded models in the database, each visible to its owner only."""

    def __init__(self, engine: Engine, registry: Registry) -> None:
        self.engine = engine
        self.registry = registry

    # --- sources ------------------------------------------------------------------

    def create_source(self, principal: Principal, name: str, text: str) -> SourceRecord:
        header, rows = parse_csv(text)
        ident, now = new_id(), time.time()
        with self.engine.begin() as conn:
            conn.execute(
                sources.insert().values(id=ident, owner_id=principal.user_id, name=name, content=text, created_at=now)
            )
        return SourceRecord(ident, name, now, len(text.encode()), tuple(header), len(rows))

    def source(self, principal: Principal, ident: str) -> SourceRecord:
        row = self._owned(sources, principal, ident, "source")
        header, rows = parse_csv(row.content)
        return SourceRecord(row.id, row.name, row.created_at, len(row.content.encode()), tuple(header), len(rows))

    def sources(self, principal: Principal, offset: int, limit: int) -> tuple[list[SourceRecord], int]:
        ids, total = self._page(sources, principal, offset, limit)
        return [self.source(principal, i) for i in ids], total

    def delete_source(self, principal: Principal, ident: str) -> None:
        self._delete(sources, principal, ident, "source", "a dataset was created from it; delete that first")

    # --- datasets -----------------------------------------------------------------

    def create_dataset(self, principal: Principal, source_id: str, name: str | None) -> DatasetRecord:
        source = self._owned(sources, principal, source_id, "source")
        header, rows = parse_csv(source.content)
        columns = summarise(header, rows)
        info = {"rows": len(rows), "columns": [asdict(c) for c in columns]}
        ident, now, name = new_id(), time.time(), name or f"{source.name}'s dataset"
        with self.engine.begin() as conn:
            conn.execute(
                datasets.insert().values(
                    id=ident, owner_id=principal.user_id, source_id=source.id, name=name,
                    info=json.dumps(info), created_at=now,
                )
            )
        return DatasetRecord(ident, source.id, name, now, len(rows), columns)

    def dataset(self, principal: Principal, ident: str) -> DatasetRecord:
        return _dataset_record(self._owned(datasets, principal, ident, "dataset"))

    def datasets(self, principal: Principal, offset: int, limit: int) -> tuple[list[DatasetRecord], int]:
        ids, total = self._page(datasets, principal, offset, limit)
        return [self.dataset(principal, i) for i in ids], total

    def delete_dataset(self, principal: Principal, ident: str) -> None:
        self._delete(datasets, principal, ident, "dataset", "a model was created from it; delete that first")

    # --- models -------------------------------------------------------------------

    def create_model(
        self, principal: Principal, dataset_id: str, objective: str | None, name: str | None
    ) -> ModelRecord:
        """Train a tree on the dataset's CSV; ``objective`` is a column name (default: the last).

        The zoo reads the objective as categories, numbers included (a 1-5 rating is five classes).
        """
        dataset = self.dataset(principal, dataset_id)
        columns = {c.name: c for c in dataset.columns}
        objective = objective or dataset.columns[-1].name
        if objective not in columns:
            raise BadRequest(f"the dataset has no field {objective!r} to use as the objective")
        with self.engine.connect() as conn:
            text = conn.execute(select(sources.c.content).where(sources.c.id == dataset.source_id)).scalar_one()
        ident, now = new_id(), time.time()
        name = name or f"{dataset.name}'s model"
        try:
            model = train_tree_from_csv(name, text, objective=objective, owner=principal.username)
        except (InputError, ValueError) as exc:
            raise BadRequest(f"the tree could not be trained: {exc}") from exc
        model.upload_id = ident
        model.columns = [c.name for c in dataset.columns]
        with self.engine.begin() as conn:
            conn.execute(
                uploaded_models.insert().values(
                    id=ident, owner_id=principal.user_id, dataset_id=dataset.id, name=name,
                    blob=model_to_bytes(model), downloadable=True, created_at=now,
                )
            )
        return ModelRecord(ident, dataset.id, dataset.source_id, name, now, model)

    def model(self, principal: Principal, ident: str) -> ModelRecord:
        row = self._owned(uploaded_models, principal, ident, "model")
        with self.engine.connect() as conn:
            source_id = conn.execute(select(datasets.c.source_id).where(datasets.c.id == row.dataset_id)).scalar_one()
        return ModelRecord(row.id, row.dataset_id, source_id, row.name, row.created_at, self.registry.uploaded(row.id))

    def models(self, principal: Principal) -> list[ModelRecord]:
        with self.engine.connect() as conn:
            ids = conn.execute(
                select(uploaded_models.c.id)
                .where(uploaded_models.c.owner_id == principal.user_id)
                .order_by(uploaded_models.c.created_at, uploaded_models.c.id)
            ).scalars().all()
        return [self.model(principal, i) for i in ids]

    def delete_model(self, principal: Principal, ident: str) -> None:
        self._delete(uploaded_models, principal, ident, "model", "")

    # --- shared -------------------------------------------------------------------

    def _owned(self, table: Table, principal: Principal, ident: str, kind: str) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(table).where(table.c.id == ident).where(table.c.owner_id == principal.user_id)
            ).first()
        if row is None:
            raise NotFound(f"no {kind} {kind}/{ident}")
        return row

    def _page(self, table: Table, principal: Principal, offset: int, limit: int) -> tuple[list[str], int]:
        mine = table.c.owner_id == principal.user_id
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(table).where(mine)).scalar_one()
            ids = conn.execute(
                select(table.c.id).where(mine).order_by(table.c.created_at, table.c.id).offset(offset).limit(limit)
            ).scalars().all()
        return list(ids), total

    def _delete(self, table: Table, principal: Principal, ident: str, kind: str, in_use: str) -> None:
        self._owned(table, principal, ident, kind)
        try:
            with self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.id == ident))
        except IntegrityError as exc:
            raise BadRequest(f"{kind}/{ident} cannot be deleted: {in_use}") from exc


def _dataset_record(row: Any) -> DatasetRecord:
    info = json.loads(row.info)
    columns = tuple(
        Column(**{**c, "categories": tuple(tuple(pair) for pair in c["categories"])}) for c in info["columns"]
    )
    return DatasetRecord(row.id, row.source_id, row.name, row.created_at, info["rows"], columns)
