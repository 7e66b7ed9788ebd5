"""Reconstructing what users send to a split network (Titcombe et al. 2021): the curious service's decoder.

Simulated users (one account per person) run the public device stage on their held-out
photos, add the device's Laplace noise (``--device-noise b``) and send the features to the
service stage over HTTP. The attacker is the service: with the operator's key it reads the
features it logged (``GET /admin/models/<model>/features``), downloads the device stage
like any user of the app, trains a deconvolutional decoder on the device stage's features
of auxiliary faces of *other* people (identity folds: no decoder meets its victims'
faces), and rebuilds each user's photos. The model's accuracy under b is read from the
answers the users got.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import requests

from attack_clients.attacks.base import Attack, AttackNotApplicable, AttackResult, Command, Target, cli
from attack_clients.attacks.face_session import FaceParams, FaceSession
from attack_clients.attacks.judging import face_data
from attack_clients.clients import DownloadForbidden, connect
from defenses.device_noise import laplace_features

if TYPE_CHECKING:  # torch loads only when the attack runs
    from torch import nn


@dataclass(frozen=True)
class SplitDecoderParams(FaceParams):
    device_noise: float = field(default=0.0, metadata=cli("Laplace scale b the users' devices add to the features"))
    noise_unknown: bool = field(default=False, metadata=cli("the decoder trains on clean features (b not known)"))
    folds: int = field(default=2, metadata=cli("identity folds (each decoder learns from the other folds' faces)"))
    augment: int = field(default=2, metadata=cli("jittered copies per auxiliary face"))
    epochs: int = field(default=150, metadata=cli())
    width: int = field(default=32, metadata=cli("channels of the decoder's first transposed convolution"))


@dataclass
class Operator:
    """The service's own view: its admin API (users, the feature log), over HTTP."""

    url: str
    key: str
    timeout: float

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        response = requests.request(method, f"{self.url}{path}", headers=headers, timeout=self.timeout, **kwargs)
        if response.status_code in (401, 403):
            raise AttackNotApplicable(
                f"{method} {path}: HTTP {response.status_code}: the split-network attacker is the service "
                "itself and reads its feature log with the operator's key"
            )
        response.raise_for_status()
        return response

    def create_user(self, username: str) -> str:
        return str(self.request("POST", "/admin/users", json={"username": username}).json()["api_key"])

    def logged_features(self, model: str, username: str) -> np.ndarray:
        """Every feature row ``username`` sent to ``model``, oldest first."""
        queries = self.request("GET", f"/admin/models/{model}/features", params={"username": username}).json()
        rows = [row for query in reversed(queries["queries"]) for row in query["features"]]
        return np.asarray(rows, dtype=np.float32)


def _device_stage(target: Target, name: str) -> nn.Sequential:
    from attack_clients.faces.network import device_stage

    with connect(target.url, target.key, name, "bigml", timeout=target.timeout) as client:
        try:
            return device_stage(client.download_model())
        except DownloadForbidden as error:
            raise AttackNotApplicable(f"the device stage {name!r} cannot be downloaded: {error}") from error


def _features(device: nn.Module, images: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return device(torch.as_tensor(np.asarray(images, dtype=np.float32))).numpy()


def _mean_ssim(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    from skimage.metrics import structural_similarity as ssim

    return float(np.mean([ssim(x.reshape(shape), y.reshape(shape), data_range=1) for x, y in zip(a, b, strict=True)]))


def run(target: Target, params: SplitDecoderParams) -> AttackResult:
    """Simulate the users' queries, read the logged features, decode them into faces."""
    from attack_clients.faces.decoder import augment, identity_folds
    from attack_clients.faces.split import SplitDecoder

    session = FaceSession(target, params)
    split = session.metadata.get("split")
    if not split:
        raise AttackNotApplicable(f"{target.model} is not a split network's service stage (no split metadata)")
    data, mapping, problem = face_data(session.image_shape, session.classes)
    if data is None:
        raise AttackNotApplicable(f"the split-decoder attack needs face data: {problem}")
    inverse = np.full(len(data.classes), -1)
    inverse[mapping] = np.arange(len(mapping))
    model_labels = inverse[data.labels]
    heldout = np.asarray(session.metadata.get("heldout_rows") or [], dtype=int)
    if not heldout.size:
        raise AttackNotApplicable(f"{target.model} publishes no heldout_rows: no query photos to simulate")
    device = _device_stage(target, split["device_model"])
    operator = Operator(session.client.url, target.key, target.timeout)

    # The users: one account per person, sending the features of their held-out photos.
    run_id = secrets.token_hex(4)
    sent: dict[int, np.ndarray] = {}
    logged: dict[int, np.ndarray] = {}
    correct = answered = 0
    for label in np.unique(model_labels[heldout]):
        rows = heldout[model_labels[heldout] == label]
        username = f"split-{run_id}-{label}"
        key = operator.create_user(username)
        features = laplace_features(_features(device, data.images[rows]), params.device_noise,
                                    seed=params.seed * 100_003 + int(label))
        with connect(session.client.url, key, target.model, "v2", timeout=target.timeout) as user:
            answers, _ = user.predict_proba(features)
        correct += int(np.sum(np.asarray(answers) == label))
        answered += len(rows)
        sent[int(label)] = rows
        logged[int(label)] = operator.logged_features(target.model, username)
    accuracy = correct / answered

    # The attacker: a decoder per identity fold, trained on the other folds' faces.
    victims_of = [label for label in session.labels if label in sent]
    folds = identity_folds(len(session.classes), params.folds, params.seed)
    reconstructions: dict[int, np.ndarray] = {}
    baseline: dict[int, np.ndarray] = {}
    auxiliary_rows = 0
    for fold in folds:
        victims_here = [label for label in victims_of if label in set(fold.tolist())]
        if not victims_here:
            continue
        auxiliary = data.images[(model_labels >= 0) & ~np.isin(model_labels, fold)]
        queries = augment(auxiliary, session.image_shape, params.augment, params.seed)
        auxiliary_rows += len(queries)
        decoder = SplitDecoder(
            epochs=params.epochs,
            width=params.width,
            noise=0.0 if params.noise_unknown else params.device_noise,
            seed=params.seed,
            progress=session.progress,
        ).fit(_features(device, queries), queries, session.image_shape)
        for label in victims_here:
            reconstructions[label] = decoder.predict(logged[label])
            baseline[label] = np.tile(auxiliary.mean(axis=0), (len(logged[label]), 1))

    labels = [label for label in victims_of for _ in range(len(sent[label]))]
    images = np.vstack([reconstructions[label] for label in victims_of])
    truth = np.vstack([data.images[sent[label]] for label in victims_of])
    first = [int(np.flatnonzero(np.asarray(labels) == label)[0]) for label in victims_of]
    features_sent = np.vstack(list(logged.values()))
    document: dict[str, Any] = {
        "attack": "split-decoder",
        "device_model": split["device_model"],
        "device_noise": params.device_noise,
        "decoder_knows_noise": not params.noise_unknown,
        "feature_scale": {"mean_abs": float(np.mean(np.abs(features_sent))), "std": float(np.std(features_sent))},
        "accuracy_under_noise": accuracy,
        "clean_heldout_accuracy": session.metadata.get("heldout_accuracy"),
        "chance_accuracy": 1 / len(session.classes),
        "user_queries": answered,
        "logged_rows": len(features_sent),
        "auxiliary_rows": auxiliary_rows,
        "victim_rows": len(labels),
        "folds": params.folds,
    }
    result = session.finish(images[first], victims_of, document)
    if not params.no_eval:
        judged = session.judge(images, labels)
        result.document.update({key: judged[key] for key in ("judges", "success") if key in judged})
        result.document["metrics"] = {
            **judged.get("metrics", {}),
            "ssim_to_victim": _mean_ssim(images, truth, session.image_shape),
            "baseline_mean_face_ssim_to_victim": _mean_ssim(
                np.vstack([baseline[label] for label in victims_of]), truth, session.image_shape
            ),
            "accuracy_under_noise": accuracy,
            "judged": "every query photo of the chosen labels (held-out photos, never trained on)",
        }
    result.references = truth[first]
    return result


COMMAND = Command(
    "split-decoder", "face", "split network: a curious service decodes the features users send (Titcombe 2021)",
    SplitDecoderParams, run,
)
ATTACK = Attack(
    "split-decoder", "Split-network feature decoder (Titcombe et al. 2021)", "split", COMMAND, SplitDecoderParams(),
    white_box=True, operator=True,
)
NOISE_LEVELS = (1.0, 3.0, 10.0, 30.0, 100.0)
"""The device noise b of the full profile's sweep. The AT&T features are ReLU outputs of mean 15 (std 12):
b = 0.3 changes no answer, b = 100 leaves the service stage at chance (0.028, chance 0.025)."""
NOISED = tuple(
    Attack(
        f"split-decoder-b{b:g}", f"Split-network feature decoder, device noise b = {b:g}", f"split-b{b:g}", COMMAND,
        SplitDecoderParams(device_noise=b), white_box=True, operator=True,
    )
    for b in NOISE_LEVELS
)
