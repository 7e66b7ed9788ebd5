"""The evaluation grid: defences x attacks x models, and the profiles that size each cell.

Every profile runs every defence (a profile only changes how much work one cell
does), so quick and full answer the same question at different precision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ROUNDING = (0.001, 0.005, 0.01, 0.05)
"""The rounding levels of the 2015 study's countermeasure experiments."""
NOISE_SCALES = (0.001, 0.01, 0.1)
"""Decades: negligible next to a 40-class confidence, comparable to one, larger than most."""

FACE_MODELS = ("faces-softmax", "faces-mlp", "faces-dae")
TREE_MODELS = ("steak-tree", "gss-tree")
FALLBACK_TREE = "fair-tree"


@dataclass(frozen=True)
class Defence:
    """One output defence, as the per-user spec the service stores."""

    name: str
    kind: str
    level: float | None
    spec_json: str

    @property
    def spec(self) -> list[dict[str, Any]]:
        return json.loads(self.spec_json)


def _defence(name: str, kind: str, level: float | None, spec: list[dict[str, Any]]) -> Defence:
    return Defence(name, kind, level, json.dumps(spec, sort_keys=True))


DEFENCES: tuple[Defence, ...] = (
    _defence("none", "none", None, []),
    *(_defence(f"round-{r:g}", "round", r, [{"round": r}]) for r in ROUNDING),
    *(_defence(f"gaussian-{s:g}", "gaussian", s, [{"noise": "gaussian", "scale": s}]) for s in NOISE_SCALES),
    *(_defence(f"laplace-{s:g}", "laplace", s, [{"noise": "laplace", "scale": s}]) for s in NOISE_SCALES),
    _defence("top-1", "top_k", 1, [{"top_k": 1}]),
    _defence("label-only", "label_only", None, [{"label_only": True}]),
)


@dataclass(frozen=True)
class Attack:
    """One attack as the CLI runs it.

    ``white_box`` attacks make no prediction query (they download the model), so
    an output defence cannot reach them; see ``cells`` for how that is checked.
    """

    name: str
    family: str
    command: tuple[str, ...]
    white_box: bool
    title: str


ATTACKS: tuple[Attack, ...] = (
    Attack("mi-face-bb", "face", ("mi-face",), False, "MI-Face black-box (zeroth-order)"),
    Attack(
        "mi-face-bb-mean",
        "face",
        ("mi-face", "--start", "mean-face"),
        False,
        "MI-Face black-box from the mean face of other people",
    ),
    Attack("mi-face-wb", "face", ("mi-face", "--white-box", "--dialect", "bigml"), True, "MI-Face white-box"),
    Attack("extract-invert", "face", ("extract-invert",), False, "Extraction, then white-box MI-Face"),
    Attack("decoder", "face", ("decoder",), False, "Decoder inversion (Yang et al. 2019)"),
    Attack("tree-map", "tree", ("tree-map",), False, "Tree black-box MAP (2014)"),
    Attack("tree-wbwc", "tree", ("tree-wbwc",), True, "Tree white-box with counts (2015)"),
)
ATTACK_BY_NAME = {attack.name: attack for attack in ATTACKS}


@dataclass(frozen=True)
class Profile:
    """How much work one cell does: identities, per-attack CLI options, tree targets.

    ``attack_models`` narrows the face models of the attacks it names (the
    others attack every model in ``face_models``).
    """

    name: str
    face_models: tuple[str, ...]
    identities: int | None
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tree_sample: int | None = None
    attack_models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def arguments(self, attack: Attack) -> tuple[str, ...]:
        return self.options.get(attack.name, ())

    def attacks(self, attack: Attack, model: str) -> bool:
        """Is ``model`` a target of ``attack`` in this profile?"""
        return attack.family == "tree" or model in self.attack_models.get(attack.name, self.face_models)


def _args(line: str) -> tuple[str, ...]:
    return tuple(line.split())


PAPER_MI_FACE = _args("--iterations 5000 --beta 100 --gamma 0.99 --lam 0.1")

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        FACE_MODELS[:1],
        identities=5,
        options={
            "mi-face-bb": _args("--iterations 150"),
            "mi-face-bb-mean": _args("--iterations 150"),
            "mi-face-wb": _args("--iterations 300"),
            # Equation solving needs d + 1 = 10305 queries and a 10305-square least squares
            # (about a minute and 4 GB per cell): quick extracts a surrogate from 1000 queries.
            "extract-invert": _args("--method surrogate --surrogate-queries 1000 --rounds 1 --iterations 300"),
            "decoder": _args("--epochs 30 --augment 2"),
        },
        tree_sample=400,
    ),
    "full": Profile(
        "full",
        FACE_MODELS,
        identities=None,
        # PROCESS-DAE (the only PROCESS white-box MI-Face runs) every 50 steps, not every step: run
        # every step, the non-local-means clean-up undoes each step's progress, Algorithm 1's β-window
        # stops the descent within a few hundred steps, and top-1 was 0.075 (0.90 every 50 steps).
        options={"mi-face-wb": (*PAPER_MI_FACE, "--process-every", "50"), "extract-invert": PAPER_MI_FACE},
        # The query-based face attacks sweep every defence on softmax regression (the model
        # equation-solving extraction applies to); white-box MI-Face runs on all three models.
        attack_models={
            name: FACE_MODELS[:1] for name in ("mi-face-bb", "mi-face-bb-mean", "extract-invert", "decoder")
        },
    ),
    "tiny": Profile(
        "tiny",
        FACE_MODELS[:1],
        identities=2,
        options={
            "mi-face-bb": _args("--iterations 3"),
            "mi-face-bb-mean": _args("--iterations 3"),
            "mi-face-wb": _args("--iterations 5"),
            "extract-invert": _args("--method surrogate --surrogate-queries 100 --rounds 1 --iterations 5"),
            "decoder": _args("--epochs 1 --augment 0"),
        },
        tree_sample=25,
    ),
}
"""``tiny`` is a smoke test for the test suite: its numbers mean nothing."""


@dataclass(frozen=True)
class Cell:
    """One (attack, model, defence) measurement."""

    attack: Attack
    model: str
    defence: Defence

    @property
    def key(self) -> str:
        """A file- and username-safe name, unique in the grid."""
        return f"{self.attack.name}.{self.model}.{self.defence.name}"


def models_for(profile: Profile, available: Iterable[str]) -> dict[str, list[str]]:
    """The face and tree models this profile attacks among those the service serves."""
    served = set(available)
    trees = [m for m in TREE_MODELS if m in served] or [m for m in (FALLBACK_TREE,) if m in served]
    return {"face": [m for m in profile.face_models if m in served], "tree": trees}


def grid(profile: Profile, available: Iterable[str]) -> list[Cell]:
    """Every cell of the sweep, costly attack families first (better packing on few workers)."""
    models = models_for(profile, available)
    return [
        Cell(attack, model, defence)
        for attack in ATTACKS
        for model in models[attack.family]
        if profile.attacks(attack, model)
        for defence in DEFENCES
    ]
