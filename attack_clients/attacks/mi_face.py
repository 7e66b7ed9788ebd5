"""MI-Face (Fredrikson et al. 2015): gradient descent on the image towards each label.

Black-box: zeroth-order or finite-difference estimates of the gradient from
prediction queries. White-box: exact gradients of the model downloaded through
the BigML dialect. Either starts from the blank image (Algorithm 1) or from the
mean face of everyone else (``faces.starts``). Image priors (``faces.priors``)
are off by default (Algorithm 1); the ``-prior`` entries switch them on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.attacks.base import Attack, AttackNotApplicable, AttackResult, Command, Target, cli
from attack_clients.attacks.descent import DescentParams, log_gradient
from attack_clients.attacks.face_session import FaceSession
from attack_clients.attacks.judging import face_data
from attack_clients.faces.priors import PRIORS, PriorSettings, parse_percentiles, parse_priors
from attack_clients.faces.starts import STARTS


@dataclass(frozen=True)
class MiFaceParams(DescentParams):
    white_box: bool = field(default=False, metadata=cli("use the downloaded model"))
    start: str = field(
        default="blank",
        metadata=cli(
            "x0: the blank image (Algorithm 1) or, per victim, the mean of the auxiliary faces of everyone else "
            "(needs MLAAS_DATA_DIR faces, or the digits fallback, at the model's resolution)",
            choices=STARTS,
        ),
    )
    estimator: str = field(default="zo", metadata=cli(choices=("zo", "fd")))
    directions: int = field(default=8, metadata=cli("zo: antithetic pairs per step"))
    delta: float = field(default=0.5, metadata=cli("zo: probe radius"))
    basis: int = field(default=16, metadata=cli("zo: DCT basis side (16 -> 16x16)"))
    smooth_cost: str = field(
        default="auto",
        metadata=cli(
            "zo: stop on the probes' mean cost (auto: when answers are rounded)", choices=("auto", "on", "off")
        ),
    )
    fd_step: float = field(default=0.01, metadata=cli("fd: difference step"))
    fd_coordinates: int | None = field(default=None, metadata=cli("fd: pixels probed per step (default all)"))
    denoise: bool = field(default=False, metadata=cli("black-box: pixel-space PROCESS"))
    prior: tuple[str, ...] = field(
        default=(),
        metadata=cli(
            f"image priors, any of {','.join(PRIORS)} (default none: Algorithm 1); pixel space only",
            parse=parse_priors,
            metavar="PRIORS",
        ),
    )
    tv_weight: float = field(default=PriorSettings.tv_weight, metadata=cli("tv: weight of the TV gradient"))
    lowpass: int = field(default=PriorSettings.lowpass, metadata=cli("lowpass: keep the lowest K x K DCT coefficients"))
    blur_every: int = field(default=PriorSettings.blur_every, metadata=cli("blur: every N steps"))
    blur_sigma: float = field(default=PriorSettings.blur_sigma, metadata=cli("blur: Gaussian sigma in pixels"))
    contrast: tuple[float, ...] = field(
        default=PriorSettings.contrast,
        metadata=cli(
            "contrast: clip each image to these percentiles of its pixels", parse=parse_percentiles, metavar="LOW,HIGH"
        ),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.priors()  # an unknown prior or a bad range fails where it is written

    def priors(self) -> PriorSettings:
        """The image priors these parameters switch on."""
        return PriorSettings(self.prior, self.tv_weight, self.lowpass, self.blur_every, self.blur_sigma, self.contrast)


def _starts(session: FaceSession, start: str) -> np.ndarray:
    """Each attacked label's x0: the blank image, or the mean face of everyone else."""
    from attack_clients.faces.starts import blank_starts, mean_face_starts

    if start == "blank":
        return blank_starts(len(session.labels), int(np.prod(session.image_shape)))
    data, mapping, problem = face_data(session.image_shape, session.classes)
    if data is None:
        raise AttackNotApplicable(f"--start mean-face needs auxiliary faces at the model's resolution: {problem}")
    return mean_face_starts(data, mapping[np.asarray(session.labels)])


def _own_confidences(probabilities: np.ndarray, labels: list[int]) -> np.ndarray:
    return probabilities[np.arange(len(labels)), np.asarray(labels)]


def _white_box(session: FaceSession, params: MiFaceParams) -> tuple[np.ndarray, Any, np.ndarray, dict[str, Any]]:
    from attack_clients.clients import DownloadForbidden
    from attack_clients.faces.inversion import invert_white_box
    from attack_clients.faces.network import WhiteBoxModel

    if not hasattr(session.client, "download_model"):
        raise AttackNotApplicable(
            f"--white-box needs the model download, which the {session.target.dialect} dialect does not offer: "
            "use --dialect bigml"
        )
    try:
        export = session.client.download_model()
    except DownloadForbidden as error:
        raise AttackNotApplicable(f"download refused by the operator: {error}") from None
    model = WhiteBoxModel(export)
    if params.prior and model.code_space:
        raise AttackNotApplicable("image priors act on pixels; this model's white-box search runs in its DAE's codes")
    starts = _starts(session, params.start)
    use_log, why = log_gradient(params.gradient, _own_confidences(model.predict_proba(starts), session.labels))
    mi = params.mi_face(5000)
    images, result = invert_white_box(
        model, session.labels, mi, progress=session.progress, log_gradient=use_log, x0=starts, prior=params.priors()
    )
    document = {"mode": "white-box", "code_space": model.code_space, "log_gradient": use_log, "gradient_choice": why}
    return images, result, starts, {**document, "parameters": mi.__dict__}


def _black_box(session: FaceSession, params: MiFaceParams) -> tuple[np.ndarray, Any, np.ndarray, dict[str, Any]]:
    from attack_clients.faces.defense_profile import detect
    from attack_clients.faces.inversion import BlackBoxSettings, invert_black_box

    blank_image = np.zeros((1, int(np.prod(session.image_shape))), dtype=np.float32)
    blank = session.oracle.predict_proba(blank_image)[1][0]
    profile = detect(blank[None, :])
    starts = _starts(session, params.start)
    at_starts = (
        np.tile(blank, (len(session.labels), 1)) if params.start == "blank" else session.oracle.predict_proba(starts)[1]
    )
    use_log, why = log_gradient(params.gradient, _own_confidences(at_starts, session.labels))
    smooth = profile.rounding is not None if params.smooth_cost == "auto" else params.smooth_cost == "on"
    settings = BlackBoxSettings(
        estimator=params.estimator,
        directions=params.directions,
        delta=params.delta,
        basis=(params.basis, params.basis),
        smooth_cost=smooth,
        log_gradient=use_log,
        floor=profile.floor,
        fd_step=params.fd_step,
        fd_coordinates=params.fd_coordinates,
        seed=params.seed,
    )
    mi = params.mi_face(2000)
    images, result = invert_black_box(
        session.oracle,
        session.labels,
        session.image_shape,
        mi,
        settings,
        params.denoise,
        session.progress,
        starts,
        params.priors(),
    )
    document = {
        "mode": "black-box",
        "settings": settings.__dict__,
        "denoise": params.denoise,
        "observed_defence": profile.as_dict(),
        "log_gradient": use_log,
        "gradient_choice": why,
    }
    return images, result, starts, {**document, "parameters": mi.__dict__}


def run(target: Target, params: MiFaceParams) -> AttackResult:
    """MI-Face over every requested label at once."""
    session = FaceSession(target, params)
    invert = _white_box if params.white_box else _black_box
    images, result, starts, document = invert(session, params)
    document = {"attack": "mi-face", **document, "start": params.start, "priors": params.priors().describe()}
    if params.start != "blank" and not params.no_eval:
        # The control: how the judges rate the starting images themselves, before any query.
        document["start_metrics"] = session.judge(starts, session.labels)
    document.update(
        gamma_reading="stop when the label's confidence reaches gamma (cost <= 1 - gamma)",
        per_label=[
            {
                "label": int(label),
                "confidence": float(f),
                "log_confidence": float(log_f),
                "iterations": int(it),
                "stop": reason,
            }
            for label, f, log_f, it, reason in zip(
                result.labels,
                result.confidence,
                result.log_confidence,
                result.iterations,
                result.stop_reasons,
                strict=True,
            )
        ],
    )
    return session.finish(images, session.labels, document)


COMMAND = Command("mi-face", "face", "MI-Face (black-box by default)", MiFaceParams, run)
BLACK_BOX = Attack("mi-face-bb", "MI-Face black-box (zeroth-order)", "bb", COMMAND, MiFaceParams())
FROM_MEAN_FACE = Attack(
    "mi-face-bb-mean",
    "MI-Face black-box from the mean face of other people",
    "bb-mean",
    COMMAND,
    MiFaceParams(start="mean-face"),
)
WHITE_BOX = Attack(
    "mi-face-wb", "MI-Face white-box", "wb", COMMAND, MiFaceParams(white_box=True), white_box=True, dialect="bigml"
)
PRIOR = ("tv", "lowpass", "blur", "contrast")
"""The priors the ``-prior`` entries switch on, with their default parameters."""
BLACK_BOX_PRIOR = Attack(
    "mi-face-bb-prior", "MI-Face black-box with image priors", "bb-prior", COMMAND, MiFaceParams(prior=PRIOR)
)
WHITE_BOX_PRIOR = Attack(
    "mi-face-wb-prior",
    "MI-Face white-box with image priors",
    "wb-prior",
    COMMAND,
    MiFaceParams(white_box=True, prior=PRIOR),
    white_box=True,
    dialect="bigml",
)
