"""MI-Face (Fredrikson, Jha & Ristenpart, CCS 2015, Algorithm 1), batched.

All requested labels descend together in one tensor, each with its own
stopping state, so one forward/backward pass (white-box) or one oracle batch
(black-box) serves every label per step.

Reading of the stopping rule. Algorithm 1 writes ``if c(x_i) <= γ: break``
with γ = 0.99; since c(x) = 1 - f_label(x) is already about 0.975 at x0 = 0 on a
40-class model, the literal test stops after one step. We read γ as "stop when
the label's confidence reaches γ", i.e. ``c(x_i) <= 1 - γ``. The β-window test
``c(x_i) >= max(c(x_{i-1}), ..., c(x_{i-β}))`` is applied once β earlier costs
exist. The result is the best iterate (argmin of c), not the last one; IBM ART's
``MIFace`` reverses the stopping mask and returns the last iterate.

Every decision is taken on -log f, a strictly increasing function of c, so
each is the one Algorithm 1 takes on c; but 1 - f rounds to exactly 1 once f
falls below ~1e-16 (a label the blank image gives f = 1e-26), which would
read as "no progress in β steps" while f grows by orders of magnitude.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from attack_clients.faces.priors import ImagePrior
from attack_clients.faces.process import Process

LogConfidenceAndGradient = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class MIFaceParams:
    """Algorithm 1's α (max iterations), β (window), γ (target confidence), λ (step)."""

    alpha: int = 5000
    beta: int = 100
    gamma: float = 0.99
    lam: float = 0.1
    process_every: int = 1


@dataclass
class MIFaceResult:
    """Best iterate per label, in the space searched (pixels, or DAE codes)."""

    labels: np.ndarray
    x: np.ndarray
    log_confidence: np.ndarray
    iterations: np.ndarray
    stop_reasons: list[str]
    evaluations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def confidence(self) -> np.ndarray:
        return np.exp(self.log_confidence)

    @property
    def cost(self) -> np.ndarray:
        """Algorithm 1's c = 1 - f at the best iterate."""
        return -np.expm1(self.log_confidence)


def mi_face(
    log_confidence_and_gradient: LogConfidenceAndGradient,
    labels: Sequence[int],
    x0: torch.Tensor,
    params: MIFaceParams | None = None,
    process: Process | None = None,
    progress: bool = False,
    description: str = "MI-Face",
    prior: ImagePrior | None = None,
) -> MIFaceResult:
    """Run Algorithm 1 for every label at once from the rows of ``x0``.

    Iterates are clamped to [0, 1] after every step (the service accepts only
    pixels in [0, 1]; DAE codes are sigmoid outputs); ``process`` runs every
    ``params.process_every`` steps on top of that. ``prior`` (pixel iterates
    only) adds its gradient term to every gradient and projects every iterate
    before PROCESS; without one the descent is Algorithm 1's.
    """
    params = params or MIFaceParams()
    if prior is not None:
        log_confidence_and_gradient = prior.regularised(log_confidence_and_gradient)
    labels_all = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    m = len(labels_all)
    out_x = x0.detach().clone().float()
    iterations = torch.full((m,), params.alpha, dtype=torch.long)
    reasons = ["alpha"] * m
    # State of the labels still running, kept compact (no gathers per step).
    rows = torch.arange(m)
    label_a = labels_all
    x = out_x.clone()
    log_f, grad = log_confidence_and_gradient(x, label_a)
    cost = -log_f.double()
    best_x, best_cost = x.clone(), cost.clone()
    out_cost = cost.clone()
    window = torch.full((m, params.beta), float("inf"), dtype=torch.float64)
    window[:, 0] = cost
    buffers = _buffers(x)
    bar = tqdm(total=params.alpha, desc=description, disable=not progress, leave=False)
    for i in range(1, params.alpha + 1):
        # Each step is written into a buffer that neither x nor best_x holds, so that when
        # every label improved (the usual case) best_x takes x's buffer instead of a copy.
        free = next(b for b in buffers if b is not x and b is not best_x)
        x = torch.add(x, grad, alpha=-params.lam, out=free).clamp_(0, 1)
        if prior is not None:
            x = prior.project(x, i).clamp_(0, 1)
        if process is not None and i % params.process_every == 0:
            x = process(x).clamp_(0, 1)
        log_f, grad = log_confidence_and_gradient(x, label_a)
        cost = -log_f.double()
        better = cost < best_cost
        torch.where(better, cost, best_cost, out=best_cost)
        if bool(better.all()):
            best_x = x
        elif bool(better.any()):
            best_x = torch.where(better[:, None], x, best_x)
        reached = cost <= -math.log(params.gamma)
        done = reached | (cost >= window.max(dim=1).values) if i >= params.beta else reached
        window[:, i % params.beta] = cost
        bar.update(1)
        if progress and i % 50 == 0:
            bar.set_postfix(active=len(rows), confidence=f"{float(torch.exp(-best_cost).mean()):.3f}")
        if i < params.alpha and not bool(done.any()):
            continue
        finished = done if i < params.alpha else torch.ones_like(done)
        for j in torch.nonzero(finished)[:, 0].tolist():
            row = int(rows[j])
            out_x[row], out_cost[row] = best_x[j], best_cost[j]
            if bool(done[j]):
                iterations[row] = i
                reasons[row] = "gamma" if bool(reached[j]) else "beta"
        keep = ~finished
        rows, label_a, x, grad = rows[keep], label_a[keep], x[keep], grad[keep]
        best_x, best_cost, window = best_x[keep], best_cost[keep], window[keep]
        buffers = _buffers(x)
        if len(rows) == 0:
            break
    bar.close()
    return MIFaceResult(
        labels=labels_all.numpy(),
        x=out_x.numpy(),
        log_confidence=-out_cost.numpy(),
        iterations=iterations.numpy(),
        stop_reasons=reasons,
        evaluations=iterations.numpy() + 1,
    )


def _buffers(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Three buffers shaped like ``x``: x and best_x hold at most two, so one is always free."""
    return tuple(torch.empty_like(x) for _ in range(3))
