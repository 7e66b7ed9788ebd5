"""Training-based inversion (Yang et al. 2019): a decoder from the API's answers back to faces.

The adversary trains the decoder on auxiliary faces (people or images the target
did not train on) and applies it to the answers for the victims' images; see
``faces.decoder``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.attacks.base import Attack, AttackNotApplicable, AttackResult, Command, Target, cli
from attack_clients.attacks.face_session import FaceParams, FaceSession
from attack_clients.attacks.judging import face_data


@dataclass(frozen=True)
class DecoderParams(FaceParams):
    split: str = field(default="disjoint", metadata=cli(choices=("disjoint", "heldout")))
    folds: int = field(default=2, metadata=cli())
    augment: int = field(default=9, metadata=cli("jittered copies per auxiliary face"))
    epochs: int = field(default=300, metadata=cli())


def training_rows(metadata: dict, identities: np.ndarray) -> tuple[np.ndarray, str]:
    """Rows the target trained on: from the model's metadata, else 7 per person."""
    training = np.zeros(len(identities), dtype=bool)
    rows = metadata.get("training_rows")
    if rows:
        training[np.asarray(rows, dtype=int)] = True
        return training, "metadata training_rows"
    position = np.zeros(len(identities), dtype=int)
    for identity in np.unique(identities):
        members = np.flatnonzero(identities == identity)
        position[members] = np.arange(len(members))
    return position < 7, "first 7 images of each person (no training_rows in metadata)"


def _mean_ssim(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    from skimage.metrics import structural_similarity as ssim

    return float(np.mean([ssim(x.reshape(shape), y.reshape(shape), data_range=1) for x, y in zip(a, b, strict=True)]))


def run(target: Target, params: DecoderParams) -> AttackResult:
    """Decoder inversion of the target's training images of the chosen labels."""
    from attack_clients.faces.decoder import DecoderInversion, run_decoder_attack

    session = FaceSession(target, params)
    data, mapping, problem = face_data(session.image_shape, session.classes)
    if data is None:
        raise AttackNotApplicable(f"the decoder attack needs face data: {problem}")
    inverse = np.full(len(data.classes), -1)
    inverse[mapping] = np.arange(len(mapping))
    model_labels = inverse[data.labels]
    training, source = training_rows(session.metadata, model_labels)
    outcome = run_decoder_attack(
        session.oracle,
        data.images,
        model_labels,
        training,
        session.image_shape,
        split=params.split,
        folds=params.folds,
        copies=params.augment,
        decoder=DecoderInversion(epochs=params.epochs, seed=params.seed, progress=session.progress),
        seed=params.seed,
    )
    spent = session.spent()
    victim_labels = model_labels[outcome.victims]
    wanted = np.isin(victim_labels, session.labels)
    document: dict[str, Any] = {
        "attack": "decoder",
        "split": params.split,
        "folds": params.folds,
        "training_rows_from": source,
        "observed_defence": outcome.profile.as_dict(),
        "auxiliary_rows": outcome.auxiliary_rows,
        "victim_rows": outcome.victim_rows,
        "attack_stats": spent.as_dict(),
        "seconds": session.seconds(),
        "rows": spent.rows,
        "queries": spent.queries,
        "bytes_sent": spent.bytes_sent,
        "bytes_received": spent.bytes_received,
    }
    first = np.asarray([np.flatnonzero(wanted & (victim_labels == label))[0] for label in session.labels])
    images = outcome.reconstructions[first]
    if not params.no_eval:
        rec, base = outcome.reconstructions[wanted], outcome.baseline[wanted]
        truth = data.images[outcome.victims[wanted]]
        document.update(session.judge(rec, victim_labels[wanted].tolist()))
        document["metrics"] = {
            **document["metrics"],
            "ssim_to_victim": _mean_ssim(rec, truth, session.image_shape),
            "baseline_mean_face_ssim_to_victim": _mean_ssim(base, truth, session.image_shape),
            "judged": "every victim image (the target's training images of the chosen labels)",
        }
    references = data.images[outcome.victims[first]]
    return AttackResult(document, images, session.labels, session.image_shape, references)


COMMAND = Command("decoder", "face", "training-based inversion (Yang et al. 2019)", DecoderParams, run)
ATTACK = Attack("decoder", "Decoder inversion (Yang et al. 2019)", "dec", COMMAND, DecoderParams())
