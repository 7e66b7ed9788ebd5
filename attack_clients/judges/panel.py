"""The panel: every judge fitted on the same reference photos, scoring the same reconstructions.

``JUDGES`` is the registry (adding a judge is one module and one line here).
The face recogniser is the headline: an attack's ``success`` is its top-1.
Each judge's figures come with its ceiling on real held-out photos and with
its verdict on the calibration controls; a judge that rates the adversarial
controls above chance carries a warning that its figures measure model-fooling.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from attack_clients.datasets import FaceData, data_dir, load_faces
from attack_clients.judges import controls, evaluation_network, face_recognizer, pixel_evaluator
from attack_clients.judges.base import Judge, NotApplicable
from attack_clients.judges.cache import cached_json, key_of, source_of
from attack_clients.judges.controls import ADVERSARIAL, CONTROLS, excess_over_chance
from attack_clients.judges.evaluation_network import EvaluationNetwork
from attack_clients.judges.face_recognizer import FaceRecognizer
from attack_clients.judges.pixel_evaluator import PixelEvaluator
from attack_clients.judges.ssim import Ssim

JUDGES: tuple[type[Judge], ...] = (FaceRecognizer, EvaluationNetwork, PixelEvaluator, Ssim)
HEADLINE = "face_recognizer"
IDENTIFYING = ("face_recognizer", "evaluation_network", "pixel_evaluator")
"""The judges that name a person (SSIM only measures likeness): the ones the controls test."""
MODEL_FOOLING = (
    "this judge rates adversarial control images (pixel-model PGD from noise, no face prior) above chance: "
    "its figures measure how far images push a pixel model, not whether a person would recognise anyone"
)


class JudgePanel:
    """Fitted judges over one data set, their controls, and one ``judge`` call for reconstructions."""

    def __init__(self, data: FaceData, judges: tuple[type[Judge], ...] = JUDGES, seed: int = 0) -> None:
        self.data = data
        self.seed = seed
        self.judges: dict[str, Judge] = {}
        self.not_applicable: dict[str, str] = {}
        for judge_type in judges:
            judge = judge_type(seed=seed)
            try:
                self.judges[judge.name] = judge.fit(data)
            except NotApplicable as reason:
                self.not_applicable[judge.name] = str(reason)
        code = source_of(controls, evaluation_network, face_recognizer, pixel_evaluator)
        self.controls = cached_json(
            "controls", key_of(data.images, data.labels, seed, tuple(sorted(self.judges)), code), self._calibrate
        )

    def _calibrate(self) -> dict[str, dict[str, Any]]:
        """Each identifying judge's top-1 on every control, tested against chance."""
        identities = np.unique(self.data.labels)
        chance = 1.0 / len(identities)
        out: dict[str, dict[str, Any]] = {}
        images = {name: make(self.data, identities, self.seed) for name, make in CONTROLS.items()}
        for name, judge in self.judges.items():
            if name not in IDENTIFYING:
                continue
            out[name] = {}
            for control, batch in images.items():
                figures = judge.score(batch, identities)
                out[name][control] = excess_over_chance(figures["hits"], len(identities), chance)
        return out

    def credits_adversarial(self, name: str) -> bool:
        verdicts = self.controls.get(name, {})
        return any(verdicts.get(control, {}).get("above_chance", False) for control in ADVERSARIAL)

    def judge(self, images: np.ndarray, identities: np.ndarray) -> dict[str, Any]:
        """Every judge's figures for ``images`` meant to show data-set ``identities``."""
        images = np.atleast_2d(np.asarray(images, dtype=np.float64))
        identities = np.asarray(identities, dtype=int)
        out: dict[str, Any] = {}
        for name, judge in self.judges.items():
            figures = {"applies": True, "description": judge.description, **judge.score(images, identities)}
            figures["real_heldout"] = judge.real_heldout()
            if name in self.controls:
                figures["controls"] = self.controls[name]
                figures["credits_adversarial"] = self.credits_adversarial(name)
                if figures["credits_adversarial"]:
                    figures["warning"] = MODEL_FOOLING
            out[name] = figures
        for name, reason in self.not_applicable.items():
            out[name] = {"applies": False, "reason": reason}
        return {judge.name: out[judge.name] for judge in JUDGES if judge.name in out}


@cache
def _panel(image_shape: tuple[int, int], seed: int, root: str | None) -> JudgePanel:
    return JudgePanel(load_faces(image_shape), seed=seed)


def panel_for(image_shape: tuple[int, int], seed: int = 0) -> JudgePanel:
    """The panel for a model's resolution, fitted once per process and data folder.

    Raises ``FileNotFoundError`` when ``MLAAS_DATA_DIR`` lacks data at that size.
    """
    return _panel(tuple(int(v) for v in image_shape), seed, str(data_dir()))
