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
    if "top1" in metrics and "lineup_accuracy" in metrics:
        print(
            f"top-1 {metrics['top1']:.3f} top-5 {metrics['top5']:.3f} lineup {metrics['lineup_accuracy']:.3f} "
            f"SSIM {metrics['ssim_mean']:.3f}/{metrics['ssim_max']:.3f}; rows {document['rows']}, "
            f"{document['seconds']:.1f}s"
        )
