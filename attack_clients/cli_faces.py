"""What the face commands (``mi-face``, ``extract-invert``, ``decoder``) print after a run.

The attacks themselves live in ``attack_clients.attacks``; the helpers below are
named here too because the live-vs-local tests compare them on both sides.
"""

from __future__ import annotations

from pathlib import Path

from attack_clients.attacks.base import AttackResult
from attack_clients.attacks.decoder import training_rows as _training_rows
from attack_clients.attacks.descent import log_gradient as _log_gradient
from attack_clients.attacks.extract_invert import is_softmax as _is_softmax

__all__ = ["_is_softmax", "_log_gradient", "_training_rows", "print_result"]


def print_result(result: AttackResult, path: Path) -> None:
    """Where the files went and, when judged, the headline metrics and cost."""
    document = result.document
    print(f"wrote {path} and {len(result.labels)} reconstructions")
    metrics = document.get("metrics") or {}
    if "skipped" in metrics:
        print(f"not judged: {metrics['skipped']}")
    elif "judges" in document:
        success = document["success"]
        headline = "n/a" if success["top1"] is None else f"{success['top1']:.3f}"
        print(
            f"face recogniser top-1 {headline} (verified {_share(metrics['face_recognizer_verified'])}, "
            f"faces detected {_share(metrics['face_recognizer_faces_detected'])}); evaluation network top-1 "
            f"{_share(metrics['evaluation_network_top1'])}; pixel evaluator top-1 "
            f"{_share(metrics['pixel_evaluator_top1'])}; SSIM {_share(metrics['ssim_mean'])}; "
            f"rows {document['rows']}, {document['seconds']:.1f}s"
        )
        if success["top1"] is None:
            print(f"face recogniser: {success['reason']}")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
