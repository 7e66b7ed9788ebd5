"""Every attack, registered once: the CLI builds its commands and the evaluation its grid from ``ATTACKS``.

Adding an attack: a module here with its ``Params``, ``run`` and ``Attack``
entry, and one line below (see docs/contract.md, "Adding an attack").
"""

from __future__ import annotations

from attack_clients.attacks import (
    art_attribute,
    art_mi_face,
    attriguard_eval,
    decoder,
    extract_invert,
    generative,
    mi_face,
    split_decoder,
    tree_map,
    tree_wbwc,
)
from attack_clients.attacks.base import Attack, AttackNotApplicable, AttackResult, Command, Params, Target

ATTACKS: dict[str, Attack] = {
    attack.name: attack
    for attack in (
        mi_face.BLACK_BOX,
        mi_face.FROM_MEAN_FACE,
        mi_face.WHITE_BOX,
        mi_face.BLACK_BOX_PRIOR,
        mi_face.WHITE_BOX_PRIOR,
        art_mi_face.ATTACK,
        extract_invert.ATTACK,
        decoder.ATTACK,
        split_decoder.ATTACK,
        *split_decoder.NOISED,
        generative.WHITE_BOX,
        generative.BLACK_BOX,
        generative.LABEL_ONLY,
        tree_map.ATTACK,
        tree_map.TRAINING_CONFUSION,
        tree_wbwc.ATTACK,
        art_attribute.BLACK_BOX,
        art_attribute.WHITE_BOX,
        attriguard_eval.ATTACK,
        *attriguard_eval.VARIANTS,
    )
}
"""In the evaluation's order: costly families first (better packing on few workers)."""

COMMANDS: dict[str, Command] = {attack.command.name: attack.command for attack in ATTACKS.values()}
"""The ``python -m attack_clients`` verbs, one per attack module."""

__all__ = ["ATTACKS", "COMMANDS", "Attack", "AttackNotApplicable", "AttackResult", "Command", "Params", "Target"]
