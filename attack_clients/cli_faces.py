"""Command line for the face inversion attacks: ``mi-face``, ``extract-invert``, ``decoder``.

Run as ``python -m attack_clients <command> ...``. Each command talks to the
service over HTTP exactly as an adversary would (``attack_clients.clients``),
writes ``OUT/results.json`` and one
``recon-<label>.png`` per attacked label at the model's input resolution, plus
``grid.png`` (reconstructions above a real image of each person). Metrics come
from an independent evaluator over ``MLAAS_DATA_DIR`` (skipped without data).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from attack_clients.cli import add_target_arguments, client_from_args, write_results
from attack_clients.datasets import FaceData
from attack_clients.faces.starts import STARTS
from attack_clients.oracle import Oracle, QueryStats, query_all


def _labels(value: str | None, n_classes: int) -> list[int]:
    if not value:
        return list(range(n_classes))
    labels = [int(v) for v in value.split(",") if v.strip()]
    if any(not 0 <= v < n_classes for v in labels):
        raise SystemExit(f"labels must be in 0..{n_classes - 1}")
    return labels


def _common(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    parser.add_argument("--labels", help="class indices, e.g. 0,1,2 (default: every class)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluator")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _mi_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--iterations", type=int, help="α (default 5000; 2000 black-box)")
    parser.add_argument("--beta", type=int, default=100, help="β: no-progress window")
    parser.add_argument("--gamma", type=float, default=0.99, help="γ: stop at this confidence")
    parser.add_argument("--lam", type=float, default=0.1, help="λ: gradient step")
    parser.add_argument(
        "--process-every",
        type=int,
        default=1,
        help="run PROCESS every N steps (paper: 1; non-local means costs ~8 ms per 112x92 face, 50 keeps a DAE run "
        "to about half a minute)",
    )
    parser.add_argument(
        "--gradient",
        choices=["auto", "paper", "log"],
        default="auto",
        help="descend 1-f (paper) or -log f (log); auto: log when some label's f at x0 is below 1e-3",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the face attack subcommands to a CLI."""
    mi = subparsers.add_parser("mi-face", help="MI-Face (black-box by default)")
    _common(mi)
    _mi_params(mi)
    mi.add_argument("--white-box", action="store_true", help="use the downloaded model")
    mi.add_argument(
        "--start",
        choices=STARTS,
        default="blank",
        help="x0: the blank image (Algorithm 1) or, per victim, the mean of the auxiliary faces of everyone else "
        "(needs MLAAS_DATA_DIR faces, or the digits fallback, at the model's resolution)",
    )
    mi.add_argument("--estimator", choices=["zo", "fd"], default="zo")
    mi.add_argument("--directions", type=int, default=8, help="zo: antithetic pairs per step")
    mi.add_argument("--delta", type=float, default=0.5, help="zo: probe radius")
    mi.add_argument("--basis", type=int, default=16, help="zo: DCT basis side (16 -> 16x16)")
    mi.add_argument(
        "--smooth-cost",
        choices=["auto", "on", "off"],
        default="auto",
        help="zo: stop on the probes' mean cost (auto: when answers are rounded)",
    )
    mi.add_argument("--fd-step", type=float, default=0.01, help="fd: difference step")
    mi.add_argument("--fd-coordinates", type=int, help="fd: pixels probed per step (default all)")
    mi.add_argument("--denoise", action="store_true", help="black-box: pixel-space PROCESS")
    mi.set_defaults(handler=run_mi_face)

    ex = subparsers.add_parser("extract-invert", help="extract a copy, then invert it white-box")
    _common(ex)
    _mi_params(ex)
    ex.add_argument("--method", choices=["auto", "equations", "surrogate"], default="auto")
    ex.add_argument("--extra-queries", type=int, default=0, help="equations: random rows added")
    ex.add_argument("--surrogate-queries", type=int, default=20000)
    ex.add_argument("--rounds", type=int, default=3, help="surrogate: query rounds")
    ex.set_defaults(handler=run_extract_invert)

    de = subparsers.add_parser("decoder", help="training-based inversion (Yang et al. 2019)")
    _common(de)
    de.add_argument("--split", choices=["disjoint", "heldout"], default="disjoint")
    de.add_argument("--folds", type=int, default=2)
    de.add_argument("--augment", type=int, default=9, help="jittered copies per auxiliary face")
    de.add_argument("--epochs", type=int, default=300)
    de.set_defaults(handler=run_decoder)


class _Session:
    """The connected client, the attack's oracle, clock and evaluator data."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client = client_from_args(args)
        self.oracle: Oracle = self.client
        self.metadata = self.client.metadata()
        self.image_shape = tuple(int(v) for v in self.metadata["image_shape"])
        self.classes = list(self.client.classes)
        self.labels = _labels(args.labels, len(self.classes))
        self.start_stats = self.client.stats.snapshot()
        self.started = time.perf_counter()
        args.out.mkdir(parents=True, exist_ok=True)

    def spent(self) -> QueryStats:
        return self.client.stats.since(self.start_stats)

    def finish(self, images: np.ndarray, labels: list[int], results: dict[str, Any]) -> None:
        from attack_clients.faces.report import save_grid, save_reconstructions

        args = self.args
        seconds = time.perf_counter() - self.started
        spent = self.spent()
        references = None
        results.setdefault("attack_stats", spent.as_dict())
        attack = results["attack_stats"]
        results.update(
            model=args.model,
            url=args.url,
            image_shape=list(self.image_shape),
            classes=self.classes,
            labels=labels,
            seconds=seconds,
            seconds_per_identity=seconds / max(1, len(labels)),
            queries=attack["queries"],
            rows=attack["rows"],
            rows_per_identity=attack["rows"] / max(1, len(labels)),
            bytes_sent=attack["bytes_sent"],
            bytes_received=attack["bytes_received"],
            total_stats=spent.as_dict(),
        )
        results["files"] = save_reconstructions(images, labels, self.image_shape, args.out)
        if not args.no_eval:
            metrics, references = self.evaluate(images, labels)
            results["metrics"] = metrics
        save_grid(images, references, labels, self.image_shape, args.out / "grid.png")
        path = write_results(args.out, results)
        print(f"wrote {path} and {len(labels)} reconstructions")
        if "metrics" in results and "top1" in results["metrics"]:
            m = results["metrics"]
            print(
                f"top-1 {m['top1']:.3f} top-5 {m['top5']:.3f} lineup {m['lineup_accuracy']:.3f} "
                f"SSIM {m['ssim_mean']:.3f}/{m['ssim_max']:.3f}; rows {attack['rows']}, {seconds:.1f}s"
            )

    def evaluation_data(self) -> tuple[FaceData | None, np.ndarray | None, str | None]:
        """The evaluator's data at the model's resolution and each class's identity (or why not)."""
        from attack_clients.datasets import load_faces
        from attack_clients.faces.evaluation import identity_map

        try:
            data = load_faces(self.image_shape)
        except FileNotFoundError as error:
            return None, None, str(error)
        mapping = identity_map(self.classes, data)
        if mapping is None:
            return None, None, "model classes do not match the data set"
        return data, mapping, None

    def evaluate(self, images: np.ndarray, labels: list[int]) -> tuple[dict, np.ndarray | None]:
        from attack_clients.faces.evaluation import judge_for

        data, mapping, problem = self.evaluation_data()
        if data is None:
            return {"skipped": problem}, None
        judge = judge_for(self.image_shape, self.args.seed)
        identities = mapping[np.asarray(labels)]
        metrics = judge.judge(images, identities)
        first = np.asarray([np.flatnonzero(data.labels == i)[0] for i in identities])
        return {
            "evaluator": "RBF-SVM (one-vs-rest) on PCA of normalised pixels",
            "data": data.source,
            **metrics,
        }, data.images[first]


def _params(args: argparse.Namespace, default_alpha: int):
    from attack_clients.faces.mi_face import MIFaceParams

    return MIFaceParams(
        alpha=args.iterations or default_alpha,
        beta=args.beta,
        gamma=args.gamma,
        lam=args.lam,
        process_every=args.process_every,
    )


VANISHING = 1e-3


def _log_gradient(mode: str, start_confidences: np.ndarray) -> tuple[bool, str]:
    """Whether to descend -log f: the paper's 1 - f has no slope where f ~ 0 (at x0 = 0, say).

    ``start_confidences``: each attacked label's confidence at its own start.
    """
    if mode != "auto":
        return mode == "log", f"--gradient {mode}"
    lowest = float(start_confidences.min())
    if lowest < VANISHING:
        return True, f"auto: a label's confidence at x0 is {lowest:.2g} < {VANISHING}, 1 - f has no slope there"
    return False, f"auto: every label's confidence at x0 is >= {VANISHING}"


def _starts(session: _Session) -> np.ndarray:
    """Each attacked label's x0 (``--start``): the blank image, or the mean face of everyone else."""
    from attack_clients.faces.starts import blank_starts, mean_face_starts

    n_pixels = int(np.prod(session.image_shape))
    if session.args.start == "blank":
        return blank_starts(len(session.labels), n_pixels)
    data, mapping, problem = session.evaluation_data()
    if data is None:
        raise SystemExit(f"--start mean-face needs auxiliary faces at the model's resolution: {problem}")
    return mean_face_starts(data, mapping[np.asarray(session.labels)])


def _own_confidences(probabilities: np.ndarray, labels: list[int]) -> np.ndarray:
    return probabilities[np.arange(len(labels)), np.asarray(labels)]


def _blank_answer(session: _Session) -> np.ndarray:
    """The API's answer for the blank image x0 = 0 (one row)."""
    blank = np.zeros((1, int(np.prod(session.image_shape))), dtype=np.float32)
    return session.oracle.predict_proba(blank)[1][0]


def run_mi_face(args: argparse.Namespace) -> int:
    """MI-Face over every requested label at once."""
    from attack_clients.faces.defence_profile import detect
    from attack_clients.faces.inversion import BlackBoxSettings, invert_black_box, invert_white_box
    from attack_clients.faces.network import WhiteBoxModel

    session = _Session(args)
    progress = not args.quiet
    results: dict[str, Any] = {"attack": "mi-face"}
    if args.white_box:
        from attack_clients.clients import DownloadForbidden

        params = _params(args, 5000)
        if not hasattr(session.client, "download_model"):
            print(
                f"--white-box needs the model download, which the {args.dialect} dialect does not offer: "
                "use --dialect bigml",
                file=sys.stderr,
            )
            return 2
        try:
            export = session.client.download_model()
        except DownloadForbidden as error:
            print(f"download refused by the operator: {error}")
            return 2
        model = WhiteBoxModel(export)
        starts = _starts(session)
        log_gradient, why = _log_gradient(
            args.gradient, _own_confidences(model.predict_proba(starts), session.labels)
        )
        images, result = invert_white_box(
            model, session.labels, params, progress=progress, log_gradient=log_gradient, x0=starts
        )
        results.update(mode="white-box", code_space=model.code_space)
    else:
        params = _params(args, 2000)
        blank = _blank_answer(session)
        profile = detect(blank[None, :])
        starts = _starts(session)
        at_starts = (
            np.tile(blank, (len(session.labels), 1))
            if args.start == "blank"
            else session.oracle.predict_proba(starts)[1]
        )
        log_gradient, why = _log_gradient(args.gradient, _own_confidences(at_starts, session.labels))
        smooth = profile.rounding is not None if args.smooth_cost == "auto" else args.smooth_cost == "on"
        settings = BlackBoxSettings(
            estimator=args.estimator,
            directions=args.directions,
            delta=args.delta,
            basis=(args.basis, args.basis),
            smooth_cost=smooth,
            log_gradient=log_gradient,
            floor=profile.floor,
            fd_step=args.fd_step,
            fd_coordinates=args.fd_coordinates,
            seed=args.seed,
        )
        images, result = invert_black_box(
            session.oracle, session.labels, session.image_shape, params, settings, args.denoise, progress, starts
        )
        results.update(
            mode="black-box", settings=settings.__dict__, denoise=args.denoise, observed_defence=profile.as_dict()
        )
    results.update(log_gradient=log_gradient, gradient_choice=why, start=args.start)
    if args.start != "blank" and not args.no_eval:
        # The control: how the evaluator rates the starting images themselves, before any query.
        results["start_metrics"], _ = session.evaluate(starts, session.labels)
    results.update(
        parameters=params.__dict__,
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
    session.finish(images, session.labels, results)
    return 0


def _is_softmax(oracle: Oracle, n_features: int, seed: int) -> bool:
    """Are centred log-confidences affine in x? (midpoints of 4 random pairs, 12 rows)."""
    rng = np.random.default_rng(seed)
    a, b = rng.random((4, n_features)), rng.random((4, n_features))
    _, P = oracle.predict_proba(np.vstack([a, b, (a + b) / 2]).astype(np.float32))
    if (P <= 0).any():
        return False
    L = np.log(P)
    L -= L.mean(axis=1, keepdims=True)
    return bool(np.abs(L[8:] - (L[:4] + L[4:8]) / 2).max() < 1e-3)


def run_extract_invert(args: argparse.Namespace) -> int:
    """Extract a copy of the model from queries, then MI-Face on the copy."""
    from attack_clients.faces.extraction import extract_softmax, fit_surrogate
    from attack_clients.faces.inversion import invert_white_box
    from attack_clients.faces.network import WhiteBoxModel

    session = _Session(args)
    n_features = int(np.prod(session.image_shape))
    method = args.method
    if method == "auto":
        method = "equations" if _is_softmax(session.oracle, n_features, args.seed) else "surrogate"
    results: dict[str, Any] = {"attack": "extract-invert", "method": method}
    if method == "equations":
        extracted, profile = extract_softmax(session.oracle, n_features, args.extra_queries, args.seed)
        copy = WhiteBoxModel(extracted.export(session.image_shape))
        results["observed_defence"] = profile.as_dict()
    else:
        surrogate, info = fit_surrogate(
            session.oracle,
            session.image_shape,
            args.surrogate_queries,
            args.rounds,
            seed=args.seed,
            progress=not args.quiet,
        )
        copy = surrogate.white_box(session.image_shape)
        results["surrogate"] = info
    extraction_stats = session.spent()
    results["extraction_stats"] = extraction_stats.as_dict()
    params = _params(args, 5000)
    blank = copy.predict_proba(np.zeros((1, n_features)))[0]
    log_gradient, why = _log_gradient(args.gradient, blank[session.labels])
    images, result = invert_white_box(copy, session.labels, params, progress=not args.quiet, log_gradient=log_gradient)
    results.update(parameters=params.__dict__, log_gradient=log_gradient, gradient_choice=why)
    results["attack_stats"] = extraction_stats.as_dict()
    data, _, _ = session.evaluation_data() if not args.no_eval else (None, None, None)
    if data is not None:
        X = data.images.astype(np.float32)
        truth = query_all(session.client, X)
        answers = copy.predict_proba(X)
        results["copy_fidelity"] = {
            "rows": len(X),
            "label_agreement_on_faces": float((answers.argmax(1) == truth.argmax(1)).mean()),
            "mean_abs_probability_gap": float(np.abs(answers - truth).mean()),
        }
    results["per_label"] = [
        {"label": int(label), "copy_confidence": float(f), "iterations": int(it), "stop": reason}
        for label, f, it, reason in zip(
            result.labels, result.confidence, result.iterations, result.stop_reasons, strict=True
        )
    ]
    session.finish(images, session.labels, results)
    return 0


def _training_rows(metadata: dict, identities: np.ndarray) -> tuple[np.ndarray, str]:
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


def run_decoder(args: argparse.Namespace) -> int:
    """Decoder inversion of the target's training images (see ``faces.decoder``)."""
    from attack_clients.faces.decoder import DecoderInversion, run_decoder_attack
    from attack_clients.faces.evaluation import judge_for
    from attack_clients.faces.report import save_grid, save_reconstructions

    session = _Session(args)
    data, mapping, problem = session.evaluation_data()
    if data is None:
        print(f"the decoder attack needs face data: {problem}")
        return 2
    inverse = np.full(len(data.classes), -1)
    inverse[mapping] = np.arange(len(mapping))
    model_labels = inverse[data.labels]
    training, source = _training_rows(session.metadata, model_labels)
    outcome = run_decoder_attack(
        session.oracle,
        data.images,
        model_labels,
        training,
        session.image_shape,
        split=args.split,
        folds=args.folds,
        copies=args.augment,
        decoder=DecoderInversion(epochs=args.epochs, seed=args.seed, progress=not args.quiet),
        seed=args.seed,
    )
    spent = session.spent()
    victim_labels = model_labels[outcome.victims]
    wanted = np.isin(victim_labels, session.labels)
    results: dict[str, Any] = {
        "attack": "decoder",
        "split": args.split,
        "folds": args.folds,
        "training_rows_from": source,
        "observed_defence": outcome.profile.as_dict(),
        "auxiliary_rows": outcome.auxiliary_rows,
        "victim_rows": outcome.victim_rows,
        "attack_stats": spent.as_dict(),
        "seconds": time.perf_counter() - session.started,
        "rows": spent.rows,
        "queries": spent.queries,
        "bytes_sent": spent.bytes_sent,
        "bytes_received": spent.bytes_received,
    }
    first = np.asarray([np.flatnonzero(wanted & (victim_labels == label))[0] for label in session.labels])
    images = outcome.reconstructions[first]
    results["files"] = save_reconstructions(images, session.labels, session.image_shape, args.out)
    references = data.images[outcome.victims[first]]
    if not args.no_eval:
        from skimage.metrics import structural_similarity as ssim

        judge = judge_for(session.image_shape, args.seed)
        rec, base = outcome.reconstructions[wanted], outcome.baseline[wanted]
        truth = data.images[outcome.victims[wanted]]
        shape = session.image_shape
        results["metrics"] = {
            **judge.judge(rec, mapping[victim_labels[wanted]]),
            "ssim_to_victim": float(
                np.mean(
                    [ssim(a.reshape(shape), b.reshape(shape), data_range=1) for a, b in zip(rec, truth, strict=True)]
                )
            ),
            "baseline_mean_face_ssim_to_victim": float(
                np.mean(
                    [ssim(a.reshape(shape), b.reshape(shape), data_range=1) for a, b in zip(base, truth, strict=True)]
                )
            ),
            "judged": "every victim image (the target's training images of the chosen labels)",
        }
        del results["metrics"]["per_label"]
    save_grid(images, references, session.labels, session.image_shape, args.out / "grid.png")
    path = write_results(args.out, results)
    print(f"wrote {path}")
    return 0
