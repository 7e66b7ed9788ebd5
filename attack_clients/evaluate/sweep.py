"""The evaluation grid: defences x attacks (``attacks.ATTACKS``) x models, and the profiles that size each cell.

Every profile runs every defence (a profile only changes how much work one cell
does), so quick and full answer the same question at different precision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from attack_clients.attacks import ATTACKS, Attack, Params, attriguard_eval, split_decoder
from attack_clients.attacks.base import as_arguments
from defenses import parse_spec

ROUNDING = (0.001, 0.005, 0.01, 0.05)
"""The rounding levels of the 2015 study's countermeasure experiments."""
NOISE_SCALES = (0.001, 0.01, 0.1)
"""Decades: negligible next to a 40-class confidence, comparable to one, larger than most."""

FACE_MODELS = ("faces-softmax", "faces-mlp", "faces-dae")
TREE_MODELS = ("steak-tree", "gss-tree")
FALLBACK_TREE = "fair-tree"
TREE_TRAINING_DEFENSES = ("private-top", "private-bottom", "dp-eps1", "dp-eps10")
"""Each tree's training defences (app/zoo/private_trees.py), served as ``<tree>-<defence>``."""
DEFENDED_TREES = tuple(f"{tree}-{d}" for tree in (*TREE_MODELS, FALLBACK_TREE) for d in TREE_TRAINING_DEFENSES)
DEFENDED_FACES = (
    *(f"faces-{arch}-dp-nm{nm}" for arch in ("softmax", "mlp") for nm in ("0.3", "0.5", "0.7", "1")),
    "faces-mlp-wd",
    "faces-mlp-dropout",
    "faces-mlp-nls",
    "faces-mlp-mid",
)
"""The zoo's face models trained with a defence (app/zoo/defended: DP-SGD, weight decay, dropout,
negative label smoothing, MID); each is attacked as its base zoo model is, under ``DEFENDED_FACE_OUTPUTS`` only."""
DEFENDED_FACE_OUTPUTS = ("none", "round-0.01", "round-0.05")
OPT_IN = ("mi-face-bb-prior", "mi-face-wb-prior", "tree-map-train", "gmi-bb", "gmi-label")
"""Registry attacks that only a profile naming them in its ``opt_in`` runs (variants still being studied)."""
ATTRIGUARD_SWEEP = tuple(a.name for a in attriguard_eval.VARIANTS)
"""AttriGuard's budget and policy sweep beside its β = 1 cell: opt-in like ``OPT_IN`` (full runs it)."""
UNDEFENDED_ONLY = attriguard_eval.NAMES
"""Attacks measured on the plain trees without an output defence only: AttriGuard perturbs the
released answers, not the API's, and is a defence of its own."""
SPLIT_MODELS = ("faces-split", "faces-split-dp-nm1")
"""Split networks' service stages (the zoo's, then its DP-SGD-trained variant's, app/zoo/defended/split_dp.py):
the split attacks' only targets, and no other attack's; the device-noise sweep runs on the first only."""
SPLIT_SWEEP = tuple(a.name for a in split_decoder.NOISED)
"""The device-noise sweep beside the noiseless split decoder: opt-in like ``OPT_IN`` (full runs it)."""
SPLIT_ATTACKS = (split_decoder.ATTACK.name, *SPLIT_SWEEP)
"""Run without an output defence only: their attacker reads the features the devices sent, which no
output defence touches (the device noise b is the attack entry's parameter, ``--device-noise``)."""


def defended_base(model: str) -> str:
    """The zoo face model a training-defended one was trained as (``faces-mlp-wd`` -> ``faces-mlp``).

    A defended model is attacked by the attacks its base is attacked by: its cells are read
    against the base's undefended cell, which no other attack has.
    """
    return max((m for m in FACE_MODELS if model.startswith(f"{m}-")), key=len)


@dataclass(frozen=True)
class Defense:
    """One output defence, as the per-user spec the service stores."""

    name: str
    kind: str
    level: float | None
    spec_json: str

    @property
    def spec(self) -> list[dict[str, Any]]:
        return json.loads(self.spec_json)

    @property
    def keeps_labels(self) -> bool:
        """True if every answer's label is the clean row's: no step of the defence moves a label."""
        return not parse_spec(self.spec).changes_label


def _defense(name: str, kind: str, level: float | None, spec: list[dict[str, Any]]) -> Defense:
    return Defense(name, kind, level, json.dumps(spec, sort_keys=True))


DEFENSES: tuple[Defense, ...] = (
    _defense("none", "none", None, []),
    *(_defense(f"round-{r:g}", "round", r, [{"round": r}]) for r in ROUNDING),
    *(_defense(f"gaussian-{s:g}", "gaussian", s, [{"noise": "gaussian", "scale": s}]) for s in NOISE_SCALES),
    *(_defense(f"laplace-{s:g}", "laplace", s, [{"noise": "laplace", "scale": s}]) for s in NOISE_SCALES),
    _defense("top-1", "top_k", 1, [{"top_k": 1}]),
    _defense("label-only", "label_only", None, [{"label_only": True}]),
)


@dataclass(frozen=True)
class Profile:
    """How much work one cell does: identities, each attack's parameters, tree targets.

    ``params`` holds the attacks whose parameters differ from their registry
    entry's, checked on construction (a wrong attack or parameter type fails on
    import, not in a cell). ``attack_models`` narrows the face models of the
    attacks it names (the others attack every model in ``face_models``);
    ``opt_in`` the attacks of ``OPT_IN`` it runs; ``tree_defenses`` the trees' training
    defences it attacks beside each tree; ``defended_faces`` the training-defended face
    models, each attacked as its base zoo model is, under ``DEFENDED_FACE_OUTPUTS``.
    """

    name: str
    face_models: tuple[str, ...]
    identities: int | None
    params: Mapping[str, Params] = field(default_factory=dict)
    tree_sample: int | None = None
    attack_models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    opt_in: tuple[str, ...] = ()
    tree_defenses: tuple[str, ...] = ()
    defended_faces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, params in self.params.items():
            expected = ATTACKS[name].command.params
            if type(params) is not expected:
                raise TypeError(f"profile {self.name}: {name} takes {expected.__name__}, not {type(params).__name__}")

    def params_for(self, attack: Attack) -> Params:
        return self.params.get(attack.name, attack.params)

    def options(self) -> dict[str, list[str]]:
        """Each tuned attack's command-line flags beyond its registry entry's (for the report)."""
        return {name: as_arguments(params, ATTACKS[name].params) for name, params in self.params.items()}

    def attacks(self, attack: Attack, model: str) -> bool:
        """Is ``model`` a target of ``attack`` in this profile?"""
        if attack.name in (*OPT_IN, *ATTRIGUARD_SWEEP, *SPLIT_SWEEP) and attack.name not in self.opt_in:
            return False
        if attack.name in UNDEFENDED_ONLY and model not in (*TREE_MODELS, FALLBACK_TREE):
            return False
        if (attack.name in SPLIT_ATTACKS) != (model in SPLIT_MODELS):
            return False
        if model in self.defended_faces:
            model = defended_base(model)
            return attack.family == "face" and model in self.attack_models.get(attack.name, self.face_models)
        return attack.family == "tree" or model in self.attack_models.get(attack.name, self.face_models)


def _tuned(changes: Mapping[str, Mapping[str, Any]]) -> dict[str, Params]:
    """Each named attack's registry parameters with the given changes."""
    return {name: ATTACKS[name].tuned(**fields) for name, fields in changes.items()}


PAPER_MI_FACE = {"iterations": 5000, "beta": 100, "gamma": 0.99, "lam": 0.1}

PROFILES: dict[str, Profile] = {
    "quick": Profile(
        "quick",
        FACE_MODELS[:1],
        identities=5,
        params=_tuned(
            {
                "mi-face-bb": {"iterations": 150},
                "mi-face-bb-mean": {"iterations": 150},
                "mi-face-wb": {"iterations": 300},
                # Equation solving needs d + 1 = 10305 queries and a 10305-square least squares
                # (about a minute and 4 GB per cell): quick extracts a surrogate from 1000 queries.
                "extract-invert": {"method": "surrogate", "surrogate_queries": 1000, "rounds": 1, "iterations": 300},
                "decoder": {"epochs": 30, "augment": 2},
                "split-decoder": {"epochs": 40, "augment": 0},
                "gmi-wb": {"prior_size": "reduced", "steps": 100},
                "art-mi-face": {"max_iter": 20},
            }
        ),
        tree_sample=400,
        attack_models={"split-decoder": SPLIT_MODELS[:1]},
    ),
    "full": Profile(
        "full",
        FACE_MODELS,
        identities=None,
        # PROCESS-DAE (the only PROCESS white-box MI-Face runs) every 50 steps, not every step: run
        # every step, the non-local-means clean-up undoes each step's progress, Algorithm 1's β-window
        # stops the descent within a few hundred steps, and top-1 was 0.075 (0.90 every 50 steps).
        params=_tuned(
            {
                "mi-face-wb": {**PAPER_MI_FACE, "process_every": 50},
                "mi-face-wb-prior": PAPER_MI_FACE,
                "extract-invert": PAPER_MI_FACE,
                # At threshold 1 ART descends every face for max_iter steps (it never stops on success):
                # black-box MI-Face's 2000, not ART's 10000 (20000 requests of 720 rows a cell).
                "art-mi-face": {"max_iter": 2000},
            }
        ),
        # The query-based face attacks sweep every defence on softmax regression (the model
        # equation-solving extraction applies to); white-box MI-Face runs on all three models,
        # with image priors on the two that it searches in pixels (the DAE's search runs in codes).
        attack_models={
            **{
                name: FACE_MODELS[:1]
                for name in (
                    "mi-face-bb",
                    "mi-face-bb-mean",
                    "mi-face-bb-prior",
                    "art-mi-face",
                    "extract-invert",
                    "decoder",
                )
            },
            "mi-face-wb-prior": FACE_MODELS[:2],
            **dict.fromkeys(SPLIT_SWEEP, SPLIT_MODELS[:1]),
            split_decoder.ATTACK.name: SPLIT_MODELS,
        },
        opt_in=(*OPT_IN, *ATTRIGUARD_SWEEP, *SPLIT_SWEEP),
        tree_defenses=TREE_TRAINING_DEFENSES,
        defended_faces=DEFENDED_FACES,
    ),
    "tiny": Profile(
        "tiny",
        FACE_MODELS[:1],
        identities=2,
        params=_tuned(
            {
                "mi-face-bb": {"iterations": 3},
                "mi-face-bb-mean": {"iterations": 3},
                "mi-face-wb": {"iterations": 5},
                "extract-invert": {"method": "surrogate", "surrogate_queries": 100, "rounds": 1, "iterations": 5},
                "decoder": {"epochs": 1, "augment": 0},
                "gmi-wb": {"prior_size": "reduced", "steps": 5, "starts": 1},
                "art-mi-face": {"max_iter": 3},
            }
        ),
        tree_sample=25,
    ),
}
"""``tiny`` is a smoke test for the test suite: its numbers mean nothing."""


@dataclass(frozen=True)
class Cell:
    """One (attack, model, defence) measurement."""

    attack: Attack
    model: str
    defense: Defense

    @property
    def key(self) -> str:
        """A file- and username-safe name, unique in the grid."""
        return f"{self.attack.name}.{self.model}.{self.defense.name}"

    @property
    def answers_as_undefended(self) -> bool:
        """A labels-only attack under a defence that moves no label: it reads the undefended answers."""
        return self.attack.labels_only and self.defense.keeps_labels


def models_for(profile: Profile, available: Iterable[str]) -> dict[str, list[str]]:
    """The face and tree models this profile attacks among those the service serves."""
    served = set(available)
    trees = [m for m in TREE_MODELS if m in served] or [m for m in (FALLBACK_TREE,) if m in served]
    trees += [f"{tree}-{d}" for tree in list(trees) for d in profile.tree_defenses if f"{tree}-{d}" in served]
    return {
        "face": [m for m in (*profile.face_models, *profile.defended_faces, *SPLIT_MODELS) if m in served],
        "tree": trees,
    }


def grid(profile: Profile, available: Iterable[str]) -> list[Cell]:
    """Every cell of the sweep, costly attack families first (better packing on few workers)."""
    models = models_for(profile, available)
    return [
        Cell(attack, model, defense)
        for attack in ATTACKS.values()
        for model in models[attack.family]
        if profile.attacks(attack, model)
        for defense in (DEFENSES[:1] if attack.name in (*UNDEFENDED_ONLY, *SPLIT_ATTACKS) else DEFENSES)
        if model not in profile.defended_faces or defense.name in DEFENDED_FACE_OUTPUTS
    ]
