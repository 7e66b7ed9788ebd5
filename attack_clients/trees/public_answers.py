"""A respondent's public answers as AttriGuard's category codes, and back.

The public answers are every answer a tree attack may read except the sensitive
one: the model's input fields and the label (the answer the model predicts is a
survey answer too). A categorical answer's valid codes are the model's
categories without the blank one ("No answer"), which is ``MISSING``. A numeric
answer with at most ``MAX_CHOICES`` distinct values among the respondents is a
multiple-choice answer over those values (the fair survey's coded ages, the
GSS's number of children); a numeric answer with more (age in years) is released
as it is: no valid "other answer" can be told from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from attack_clients.clients.base import is_missing
from attack_clients.trees.records import NO_ANSWER, TargetSet
from defenses.attriguard import MISSING

MAX_CHOICES = 12


@dataclass(frozen=True)
class Question:
    """One public answer AttriGuard may change: its field (or the label) and its valid answers."""

    name: str
    choices: tuple[Any, ...]
    blank: Any
    """What a record holds when the question is unanswered (the model's "No answer", or None)."""
    label: bool = False

    def code(self, value: Any) -> int:
        if is_missing(value) or value == NO_ANSWER:
            return MISSING
        key = str(value) if isinstance(self.choices[0], str) else float(value)
        try:
            return self.choices.index(key)
        except ValueError:
            raise ValueError(f"{self.name}: {value!r} is not one of its answers") from None

    def value(self, code: int) -> Any:
        return self.blank if code == MISSING else self.choices[code]


@dataclass(frozen=True)
class Questionnaire:
    """The public answers AttriGuard may change, and those it releases unchanged."""

    questions: tuple[Question, ...]
    fixed: tuple[str, ...]

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(len(q.choices) for q in self.questions)

    def encode(self, targets: TargetSet) -> np.ndarray:
        """Codes ``(n, questions)`` of the targets' answers."""
        return np.array(
            [
                [q.code(label if q.label else record.get(q.name)) for q in self.questions]
                for record, label in zip(targets.records, targets.labels, strict=True)
            ],
            dtype=np.int64,
        ).reshape(len(targets.records), len(self.questions))

    def decode(self, codes: np.ndarray, targets: TargetSet) -> TargetSet:
        """The targets with their answers replaced by ``codes`` (other fields kept)."""
        records, labels = [], []
        for row, record, label in zip(codes, targets.records, targets.labels, strict=True):
            record = dict(record)
            for q, code in zip(self.questions, row, strict=True):
                if q.label:
                    label = q.value(int(code))
                else:
                    record[q.name] = q.value(int(code))
            records.append(record)
            labels.append(label)
        return TargetSet(records, labels)


def questionnaire(
    fields: Sequence[Mapping[str, Any]],
    sensitive: str,
    objective: str,
    classes: Sequence[str],
    respondents: Sequence[Mapping[str, Any]],
) -> Questionnaire:
    """The public questions of a tree model's ``fields`` and label, numeric choices read from ``respondents``."""
    questions, fixed = [], []
    for spec in fields:
        name = spec["name"]
        if name == sensitive:
            continue
        if spec.get("optype", "categorical") == "categorical":
            categories = tuple(str(c) for c in spec.get("categories") or () if c != NO_ANSWER)
            if categories:
                blank = NO_ANSWER if NO_ANSWER in (spec.get("categories") or ()) else None
                questions.append(Question(name, categories, blank))
                continue
        else:
            seen = sorted({float(r[name]) for r in respondents if not is_missing(r.get(name))})
            if 2 <= len(seen) <= MAX_CHOICES:
                questions.append(Question(name, tuple(seen), None))
                continue
        fixed.append(name)
    questions.append(Question(objective, tuple(str(c) for c in classes), None, label=True))
    return Questionnaire(tuple(questions), tuple(fixed))
