"""Generative model inversion (issue 12): each victim searched in the latent space of a face prior.

The adversary's prior (``generative.prior``) is trained per identity fold on
the photos of the *other* fold's people only (``generative.folds``), so no
photo of a victim reaches the attacker; every result says so and names the
folds. Access decides the search: ``white-box`` is GMI's latent search through
the downloaded network (``generative.white_box``), ``black-box`` a search from
returned confidences (``generative.black_box``), ``label-only`` one from
returned labels (``generative.label_only``). Without face data at the model's
resolution the digits fallback runs the same way: the prior learns the other
fold's digits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from attack_clients.attacks.base import Attack, AttackNotApplicable, AttackResult, Command, Target, cli
from attack_clients.attacks.face_session import FaceParams, FaceSession
from attack_clients.attacks.judging import face_data
from attack_clients.generative.prior import KINDS, SIZES, FacePrior

ACCESS = ("white-box", "black-box", "label-only")
AUXILIARY = (
    "the prior of each fold is trained only on the photos of the other fold's people: "
    "no photo of a victim reaches the attacker"
)


@dataclass(frozen=True)
class GenerativeParams(FaceParams):
    access: str = field(
        default="white-box",
        metadata=cli("white-box: GMI through the downloaded model; black-box: confidences; label-only", choices=ACCESS),
    )
    prior: str = field(default="vae", metadata=cli("the face prior's kind", choices=tuple(KINDS)))
    prior_size: str = field(default="full", metadata=cli("full (evaluation) or reduced (seconds)", choices=SIZES))
    steps: int | None = field(default=None, metadata=cli("search steps (default: the access's own)"))
    starts: int | None = field(default=None, metadata=cli("random latents tried per victim (default: the access's)"))
    learning_rate: float | None = field(default=None, metadata=cli("latent step size (default: the access's)"))
    prior_weight: float | None = field(default=None, metadata=cli("weight of the prior's term (default: the access's)"))


def _changes(params: GenerativeParams) -> dict[str, Any]:
    """The search settings the parameters override."""
    names = ("steps", "starts", "learning_rate", "prior_weight")
    return {name: getattr(params, name) for name in names if getattr(params, name) is not None}


def _target_logits(session: FaceSession) -> Any:
    """The downloaded network up to its logits (the download goes through BigML whatever the query dialect)."""
    from attack_clients.clients import DownloadForbidden
    from attack_clients.faces.network import WhiteBoxModel

    client = session.client if hasattr(session.client, "download_model") else session.target.connect("bigml")
    try:
        export = client.download_model()
    except DownloadForbidden as error:
        raise AttackNotApplicable(f"download refused by the operator: {error}") from None
    return WhiteBoxModel(export, attack_code_space=False).full[:-1]


def _white_box(session: FaceSession, params: GenerativeParams) -> tuple[Any, dict[str, Any]]:
    from attack_clients.generative.white_box import GmiSettings, gmi_search

    logits = _target_logits(session)
    settings = GmiSettings(**_changes(params))

    def search(prior: FacePrior, labels: list[int]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        outcome = gmi_search(prior, logits, labels, settings, params.seed, session.progress)
        return outcome.images, outcome.per_label(labels)

    return search, {"method": "GMI latent search (Zhang et al. 2020)", "settings": settings.as_dict()}


def _query_search(session: FaceSession, module: Any, settings: Any, method: str) -> tuple[Any, dict[str, Any]]:
    """A search that queries the service: ``module.run_search(oracle, prior, labels, settings, progress)``."""

    def search(prior: FacePrior, labels: list[int]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        outcome = module.run_search(session.oracle, prior, labels, settings, session.progress)
        return outcome.images, outcome.per_label(labels)

    return search, {"method": method, "settings": settings.as_dict()}


def _settings(settings_type: type, params: GenerativeParams) -> Any:
    """The search's settings with the parameters' overrides; a flag the search has no use for is refused."""
    changes = _changes(params)
    known = {spec.name for spec in dataclasses.fields(settings_type)}
    unused = sorted(set(changes) - known)
    if unused:
        flags = ", ".join("--" + name.replace("_", "-") for name in unused)
        raise AttackNotApplicable(f"--access {params.access} takes no {flags}")
    return settings_type(**changes, seed=params.seed)


def _black_box(session: FaceSession, params: GenerativeParams) -> tuple[Any, dict[str, Any]]:
    from attack_clients.generative import black_box

    settings = _settings(black_box.NesSettings, params)
    return _query_search(session, black_box, settings, "NES latent search from confidences (as MIRROR)")


def _label_only(session: FaceSession, params: GenerativeParams) -> tuple[Any, dict[str, Any]]:
    from attack_clients.generative import label_only

    settings = _settings(label_only.BrepSettings, params)
    return _query_search(session, label_only, settings, "BREP-MI boundary repulsion from labels")


SEARCHES = {"white-box": _white_box, "black-box": _black_box, "label-only": _label_only}


def run(target: Target, params: GenerativeParams) -> AttackResult:
    """Each requested label searched with the prior of the fold it is a victim in."""
    from attack_clients.generative.folds import fold_of, prior_folds
    from attack_clients.generative.prior import prior_for

    session = FaceSession(target, params)
    data, mapping, problem = face_data(session.image_shape, session.classes)
    if data is None:
        raise AttackNotApplicable(f"the generative prior needs auxiliary photos at the model's resolution: {problem}")
    search, method = SEARCHES[params.access](session, params)
    folds = prior_folds(len(data.classes))
    identities = mapping[np.asarray(session.labels, dtype=int)]
    images = np.zeros((len(session.labels), int(np.prod(session.image_shape))))
    per_label: list[dict[str, Any]] = []
    priors = []
    for fold in folds:
        mine = [i for i, identity in enumerate(identities) if fold_of(int(identity), folds) is fold]
        if not mine:
            continue
        prior = prior_for(
            fold.victims,
            session.image_shape,
            size=params.prior_size,
            kind=params.prior,
            seed=params.seed,
            progress=session.progress,
        )
        labels = [session.labels[i] for i in mine]
        images[mine], found = search(prior, labels)
        per_label += [{**row, "fold": fold.index} for row in found]
        priors.append({**fold.as_dict(), "prior": prior.description})
    document = {
        "attack": "generative",
        "access": params.access,
        **method,
        "auxiliary": AUXILIARY,
        "folds": priors,
        "per_label": sorted(per_label, key=lambda row: session.labels.index(row["label"])),
    }
    return session.finish(images, session.labels, document)


COMMAND = Command(
    "generative", "face", "generative model inversion with a face prior of other people (GMI)", GenerativeParams, run
)
WHITE_BOX = Attack(
    "gmi-wb",
    "GMI white-box (VAE prior of other people)",
    "gmi-wb",
    COMMAND,
    GenerativeParams(),
    white_box=True,
    dialect="bigml",
)
BLACK_BOX = Attack(
    "gmi-bb",
    "Generative black-box (latent search from confidences)",
    "gmi-bb",
    COMMAND,
    GenerativeParams(access="black-box"),
)
LABEL_ONLY = Attack(
    "gmi-label",
    "Generative label-only (boundary repulsion)",
    "gmi-label",
    COMMAND,
    GenerativeParams(access="label-only"),
    labels_only=True,
)
