"""Extraction, then white-box MI-Face on the copy (Tramèr et al. 2016, then Fredrikson et al. 2015).

A softmax answers exactly: equation solving recovers it from d + 1 queries.
Anything else is approximated by a surrogate trained on the API's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.attacks.base import Attack, AttackResult, Command, Target, cli
from attack_clients.attacks.descent import DescentParams, log_gradient
from attack_clients.attacks.face_session import FaceSession
from attack_clients.attacks.judging import face_data
from attack_clients.oracle import Oracle, query_all


@dataclass(frozen=True)
class ExtractInvertParams(DescentParams):
    method: str = field(default="auto", metadata=cli(choices=("auto", "equations", "surrogate")))
    extra_queries: int = field(default=0, metadata=cli("equations: random rows added"))
    surrogate_queries: int = field(default=20000, metadata=cli())
    rounds: int = field(default=3, metadata=cli("surrogate: query rounds"))


def is_softmax(oracle: Oracle, n_features: int, seed: int) -> bool:
    """Are centred log-confidences affine in x? (midpoints of 4 random pairs, 12 rows)."""
    rng = np.random.default_rng(seed)
    a, b = rng.random((4, n_features)), rng.random((4, n_features))
    _, P = oracle.predict_proba(np.vstack([a, b, (a + b) / 2]).astype(np.float32))
    if (P <= 0).any():
        return False
    L = np.log(P)
    L -= L.mean(axis=1, keepdims=True)
    return bool(np.abs(L[8:] - (L[:4] + L[4:8]) / 2).max() < 1e-3)


def run(target: Target, params: ExtractInvertParams) -> AttackResult:
    """Extract a copy of the model from queries, then MI-Face on the copy."""
    from attack_clients.faces.extraction import extract_softmax, fit_surrogate
    from attack_clients.faces.inversion import invert_white_box
    from attack_clients.faces.network import WhiteBoxModel

    session = FaceSession(target, params)
    n_features = int(np.prod(session.image_shape))
    method = params.method
    if method == "auto":
        method = "equations" if is_softmax(session.oracle, n_features, params.seed) else "surrogate"
    document: dict[str, Any] = {"attack": "extract-invert", "method": method}
    if method == "equations":
        extracted, profile = extract_softmax(session.oracle, n_features, params.extra_queries, params.seed)
        copy = WhiteBoxModel(extracted.export(session.image_shape))
        document["observed_defence"] = profile.as_dict()
    else:
        surrogate, info = fit_surrogate(
            session.oracle,
            session.image_shape,
            params.surrogate_queries,
            params.rounds,
            seed=params.seed,
            progress=session.progress,
        )
        copy = surrogate.white_box(session.image_shape)
        document["surrogate"] = info
    extraction_stats = session.spent()
    document["extraction_stats"] = extraction_stats.as_dict()
    mi = params.mi_face(5000)
    blank = copy.predict_proba(np.zeros((1, n_features)))[0]
    use_log, why = log_gradient(params.gradient, blank[session.labels])
    images, result = invert_white_box(copy, session.labels, mi, progress=session.progress, log_gradient=use_log)
    document.update(parameters=mi.__dict__, log_gradient=use_log, gradient_choice=why)
    document["attack_stats"] = extraction_stats.as_dict()
    data = None if params.no_eval else face_data(session.image_shape, session.classes)[0]
    if data is not None:
        X = data.images.astype(np.float32)
        truth = query_all(session.client, X)
        answers = copy.predict_proba(X)
        document["copy_fidelity"] = {
            "rows": len(X),
            "label_agreement_on_faces": float((answers.argmax(1) == truth.argmax(1)).mean()),
            "mean_abs_probability_gap": float(np.abs(answers - truth).mean()),
        }
    document["per_label"] = [
        {"label": int(label), "copy_confidence": float(f), "iterations": int(it), "stop": reason}
        for label, f, it, reason in zip(
            result.labels, result.confidence, result.iterations, result.stop_reasons, strict=True
        )
    ]
    return session.finish(images, session.labels, document)


COMMAND = Command("extract-invert", "face", "extract a copy, then invert it white-box", ExtractInvertParams, run)
ATTACK = Attack("extract-invert", "Extraction, then white-box MI-Face", "ext", COMMAND, ExtractInvertParams())
