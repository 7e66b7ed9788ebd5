"""The MI-Face descent settings (Algorithm 1's α, β, γ, λ) shared by ``mi-face`` and ``extract-invert``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from attack_clients.attacks.base import cli
from attack_clients.attacks.face_session import FaceParams

if TYPE_CHECKING:
    from attack_clients.faces.mi_face import MIFaceParams

VANISHING = 1e-3


@dataclass(frozen=True)
class DescentParams(FaceParams):
    """Algorithm 1's settings and the gradient's form."""

    iterations: int | None = field(default=None, metadata=cli("α (default 5000; 2000 black-box)"))
    beta: int = field(default=100, metadata=cli("β: no-progress window"))
    gamma: float = field(default=0.99, metadata=cli("γ: stop at this confidence"))
    lam: float = field(default=0.1, metadata=cli("λ: gradient step"))
    process_every: int = field(
        default=1,
        metadata=cli(
            "run PROCESS every N steps (paper: 1; non-local means costs ~8 ms per 112x92 face, 50 keeps a DAE run "
            "to about half a minute)"
        ),
    )
    gradient: str = field(
        default="auto",
        metadata=cli(
            "descend 1-f (paper) or -log f (log); auto: log when some label's f at x0 is below 1e-3",
            choices=("auto", "paper", "log"),
        ),
    )

    def mi_face(self, default_alpha: int) -> MIFaceParams:
        """Algorithm 1's parameters (α: ``iterations``, else ``default_alpha``)."""
        from attack_clients.faces.mi_face import MIFaceParams

        return MIFaceParams(
            alpha=self.iterations or default_alpha,
            beta=self.beta,
            gamma=self.gamma,
            lam=self.lam,
            process_every=self.process_every,
        )


def log_gradient(mode: str, start_confidences: np.ndarray) -> tuple[bool, str]:
    """Whether to descend -log f: the paper's 1 - f has no slope where f ~ 0 (at x0 = 0, say).

    ``start_confidences``: each attacked label's confidence at its own start.
    """
    if mode != "auto":
        return mode == "log", f"--gradient {mode}"
    lowest = float(start_confidences.min())
    if lowest < VANISHING:
        return True, f"auto: a label's confidence at x0 is {lowest:.2g} < {VANISHING}, 1 - f has no slope there"
    return False, f"auto: every label's confidence at x0 is >= {VANISHING}"
