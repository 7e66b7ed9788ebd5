"""The grid: every defence in every profile, the models each profile attacks, safe cell keys."""

from __future__ import annotations

import re

import pytest

from app.zoo.private_trees import VARIANTS
from attack_clients.attacks import ATTACKS
from attack_clients.attacks.mi_face import MiFaceParams
from attack_clients.evaluate.sweep import (
    ATTRIGUARD_SWEEP,
    DEFENDED_TREES,
    DEFENSES,
    FACE_MODELS,
    OPT_IN,
    PAPER_MI_FACE,
    PROFILES,
    ROUNDING,
    SPLIT_ATTACKS,
    SPLIT_MODELS,
    SPLIT_SWEEP,
    TREE_MODELS,
    TREE_TRAINING_DEFENSES,
    UNDEFENDED_ONLY,
    Profile,
    grid,
    models_for,
)

WITH_DATA = [*FACE_MODELS, *SPLIT_MODELS, *TREE_MODELS]
WITHOUT_DATA = [*FACE_MODELS, *SPLIT_MODELS, "fair-tree"]
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def test_the_defenses_are_the_ones_the_brief_names() -> None:
    kinds = [d.kind for d in DEFENSES]
    assert kinds.count("none") == 1
    assert [d.level for d in DEFENSES if d.kind == "round"] == list(ROUNDING) == [0.001, 0.005, 0.01, 0.05]
    assert kinds.count("gaussian") == kinds.count("laplace") == 3
    assert {"top-1": [{"top_k": 1}], "label-only": [{"label_only": True}]}.items() <= {
        d.name: d.spec for d in DEFENSES
    }.items()


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("served", [WITH_DATA, WITHOUT_DATA])
def test_every_profile_runs_every_defense_for_every_attack_and_model(profile: str, served: list[str]) -> None:
    cells = grid(PROFILES[profile], served)
    pairs = {(c.attack.name, c.model) for c in cells}
    opted_out = {*OPT_IN, *ATTRIGUARD_SWEEP, *SPLIT_SWEEP} - set(PROFILES[profile].opt_in)
    assert {c.attack.name for c in cells} == set(ATTACKS) - opted_out
    for attack, model in pairs:
        defenses = DEFENSES[:1] if attack in (*UNDEFENDED_ONLY, *SPLIT_ATTACKS) else DEFENSES
        assert [c.defense for c in cells if (c.attack.name, c.model) == (attack, model)] == list(defenses)
    assert len({c.key for c in cells}) == len(cells)


QUERY_FACE_ATTACKS = ("mi-face-bb", "mi-face-bb-mean", "art-mi-face", "extract-invert", "decoder")


def test_full_sweeps_query_attacks_on_softmax_and_white_box_on_every_face_model() -> None:
    pairs = {(c.attack.name, c.model) for c in grid(PROFILES["full"], WITH_DATA)}
    assert {m for a, m in pairs if a == "mi-face-wb"} == set(FACE_MODELS)
    for attack in QUERY_FACE_ATTACKS:
        assert {m for a, m in pairs if a == attack} == {"faces-softmax"}
    assert {m for a, m in pairs if a.startswith("tree-")} == set(TREE_MODELS)
    assert {m for a, m in pairs if a.startswith("art-attr-")} == set(TREE_MODELS)
    assert {m for a, m in pairs if a == "mi-face-bb-prior"} == {"faces-softmax"}
    assert {m for a, m in pairs if a == "mi-face-wb-prior"} == {"faces-softmax", "faces-mlp"}
    for attack in ("gmi-wb", "gmi-bb", "gmi-label"):
        assert {m for a, m in pairs if a == attack} == set(FACE_MODELS)
    pairs_per_defense = len(QUERY_FACE_ATTACKS) + 3 + 3 * 2 + 1 + 2 + 3 * len(FACE_MODELS) + 2 * len(TREE_MODELS)
    assert {m for a, m in pairs if a in SPLIT_ATTACKS} == set(SPLIT_MODELS)
    plain = [c for c in grid(PROFILES["full"], WITH_DATA) if c.attack.name not in (*UNDEFENDED_ONLY, *SPLIT_ATTACKS)]
    assert len(plain) == len(DEFENSES) * pairs_per_defense


@pytest.mark.parametrize("profile", ["quick", "tiny"])
def test_the_image_prior_variants_are_opt_in_for_full_only(profile: str) -> None:
    assert set(OPT_IN) <= set(PROFILES["full"].opt_in)
    cells = grid(PROFILES[profile], [*WITH_DATA, "fair-tree"])
    assert not {c.attack.name for c in cells} & set(OPT_IN)


def test_models_per_profile_and_the_no_data_fallback() -> None:
    assert models_for(PROFILES["quick"], WITH_DATA) == {"face": ["faces-softmax", *SPLIT_MODELS],
                                                       "tree": list(TREE_MODELS)}
    assert models_for(PROFILES["full"], WITH_DATA)["face"] == [*FACE_MODELS, *SPLIT_MODELS]
    assert models_for(PROFILES["full"], WITHOUT_DATA)["tree"] == ["fair-tree"]
    assert models_for(PROFILES["full"], [*WITH_DATA, "fair-tree"])["tree"] == list(TREE_MODELS)


def test_full_attacks_each_trees_training_defenses_beside_it() -> None:
    assert TREE_TRAINING_DEFENSES == tuple(VARIANTS)
    served = [*WITH_DATA, "fair-tree", *DEFENDED_TREES]
    defended = [f"{tree}-{d}" for tree in TREE_MODELS for d in TREE_TRAINING_DEFENSES]
    assert models_for(PROFILES["full"], served)["tree"] == [*TREE_MODELS, *defended]
    assert models_for(PROFILES["quick"], served)["tree"] == list(TREE_MODELS)
    fallback = models_for(PROFILES["full"], [*WITHOUT_DATA, *DEFENDED_TREES])["tree"]
    assert fallback == ["fair-tree", *(f"fair-tree-{d}" for d in TREE_TRAINING_DEFENSES)]
    pairs = {(c.attack.name, c.model) for c in grid(PROFILES["full"], served)}
    assert {("tree-map-train", m) for m in defended} <= pairs


def test_full_uses_all_identities_and_the_papers_white_box_settings() -> None:
    full = PROFILES["full"]
    assert full.identities is None
    white_box = full.params_for(ATTACKS["mi-face-wb"])
    assert white_box == MiFaceParams(white_box=True, iterations=5000, beta=100, gamma=0.99, lam=0.1, process_every=50)
    assert PAPER_MI_FACE == {"iterations": 5000, "beta": 100, "gamma": 0.99, "lam": 0.1}
    assert full.options()["mi-face-wb"] == ["--iterations", "5000", "--process-every", "50"]
    assert PROFILES["quick"].identities == 5


def test_a_mistyped_setting_fails_when_the_profile_is_written() -> None:
    with pytest.raises(TypeError, match="iterations"):
        ATTACKS["mi-face-bb"].tuned(iterations="150")
    with pytest.raises(ValueError, match="surrogate"):
        ATTACKS["extract-invert"].tuned(method="surogate")
    with pytest.raises(TypeError, match="itertions"):
        ATTACKS["mi-face-bb"].tuned(itertions=150)
    with pytest.raises(TypeError, match="MiFaceParams"):
        Profile("bad", ("faces-softmax",), 2, params={"decoder": MiFaceParams()})


def test_cell_keys_make_valid_usernames_with_a_run_suffix() -> None:
    for cell in grid(PROFILES["full"], [*WITH_DATA, "fair-tree", *DEFENDED_TREES]):
        assert USERNAME.match(f"{cell.key}.abcdef"), cell.key


def test_only_noise_may_move_a_label() -> None:
    moving = {d.name for d in DEFENSES if not d.keeps_labels}
    assert moving == {d.name for d in DEFENSES if d.kind in ("gaussian", "laplace")}
