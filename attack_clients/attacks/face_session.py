"""What every face attack shares: its common parameters, the connected target and the finished result."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.attacks.base import AttackNotApplicable, AttackResult, Params, Target, cli
from attack_clients.attacks.judging import judge_reconstructions, reference_faces
from attack_clients.oracle import Oracle, QueryStats


def parse_labels(value: str) -> tuple[int, ...] | None:
    """``--labels 0,1,2``; empty means every class."""
    labels = tuple(int(v) for v in value.split(",") if v.strip())
    return labels or None


@dataclass(frozen=True)
class FaceParams(Params):
    """The settings every face attack takes."""

    labels: tuple[int, ...] | None = field(
        default=None,
        metadata=cli("class indices, e.g. 0,1,2 (default: every class)", parse=parse_labels, metavar="LABELS"),
    )
    seed: int = field(default=0, metadata=cli())
    no_eval: bool = field(default=False, metadata=cli("skip the judges"))
    quiet: bool = field(default=False, metadata=cli("no progress bars"))


class FaceSession:
    """The connected client, the attack's oracle, the attacked labels and the clock."""

    def __init__(self, target: Target, params: FaceParams) -> None:
        self.target = target
        self.params = params
        self.client = target.connect()
        self.oracle: Oracle = self.client
        self.metadata = self.client.metadata()
        self.image_shape = tuple(int(v) for v in self.metadata["image_shape"])
        self.classes = list(self.client.classes)
        self.labels = self._labels(params.labels)
        self.start_stats = self.client.stats.snapshot()
        self.started = time.perf_counter()

    def _labels(self, wanted: tuple[int, ...] | None) -> list[int]:
        n_classes = len(self.classes)
        if wanted is None:
            return list(range(n_classes))
        if any(not 0 <= v < n_classes for v in wanted):
            raise AttackNotApplicable(f"labels must be in 0..{n_classes - 1}")
        return list(wanted)

    @property
    def progress(self) -> bool:
        return not self.params.quiet

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def spent(self) -> QueryStats:
        return self.client.stats.since(self.start_stats)

    def judge(self, images: np.ndarray, labels: list[int]) -> dict[str, Any]:
        """The keys a result gains from judging: ``data``, ``judges``, ``success``, ``metrics`` (the table
        columns); without data only ``metrics`` saying why."""
        judged = judge_reconstructions(images, labels, self.image_shape, self.classes, self.params.seed)
        return judged if "skipped" not in judged else {"metrics": judged}

    def finish(self, images: np.ndarray, labels: list[int], document: dict[str, Any]) -> AttackResult:
        """The result: the attack's document plus target, cost and (unless ``no_eval``) the judges' metrics."""
        seconds = self.seconds()
        spent = self.spent()
        document.setdefault("attack_stats", spent.as_dict())
        attack = document["attack_stats"]
        document.update(
            model=self.target.model,
            url=self.target.url,
            image_shape=list(self.image_shape),
            classes=self.classes,
            labels=labels,
            seconds=seconds,
            seconds_per_identity=seconds / max(1, len(labels)),
            queries=attack["queries"],
            rows=attack["rows"],
            rows_per_identity=attack["rows"] / max(1, len(labels)),
            bytes_sent=attack["bytes_sent"],
            bytes_received=attack["bytes_received"],
            total_stats=spent.as_dict(),
        )
        references = None
        if not self.params.no_eval:
            judged = self.judge(images, labels)
            document.update(judged)
            if "judges" in judged:
                references = reference_faces(labels, self.image_shape, self.classes)
        return AttackResult(document, images, list(labels), self.image_shape, references)
