"""The report's figures (matplotlib, Agg): success vs rounding, the privacy-utility frontier,
and reconstructed faces with one row per defence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from attack_clients.attacks import ATTACKS
from attack_clients.evaluate.answers import utility_cost
from attack_clients.evaluate.frontier import ModelInfo, pareto, points
from attack_clients.evaluate.store import ResultStore
from attack_clients.evaluate.sweep import DEFENSES, ROUNDING, UNDEFENDED_ONLY

Rows = Sequence[Mapping[str, Any]]
MAX_COLUMNS = 8
SUCCESS_LABEL = {"face": "face recogniser top-1", "tree": "precision of 'yes' (training)"}


def _attacks(rows: Rows) -> list[str]:
    """Attacks with cells, AttriGuard's aside: no output defence to plot them against (their own section)."""
    return [name for name in ATTACKS if name not in UNDEFENDED_ONLY and any(r["attack"] == name for r in rows)]


def _models(rows: Rows, attack: str) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in rows if r["attack"] == attack))


def saved(fig: plt.Figure, path: Path, title: str, fontsize: int = 10, dpi: int = 90) -> Path:
    """Title, lay out, write and close a figure: every report figure ends so."""
    fig.suptitle(title, fontsize=fontsize)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _panels(count: int) -> tuple[plt.Figure, np.ndarray]:
    columns = min(3, max(1, count))
    lines = max(1, int(np.ceil(count / columns)))
    fig, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.6 * lines), squeeze=False)
    for ax in axes.ravel()[count:]:
        ax.axis("off")
    return fig, axes.ravel()


def plotted(row: Mapping[str, Any] | None) -> float | None:
    """The success to draw: a tree attack that never said "yes" is drawn at 0 (with an x)."""
    if row is None or row.get("status") != "ok":
        return None
    if row.get("success") is None:
        return 0.0 if row.get("family") == "tree" else None
    return float(row["success"])


def _marker(row: Mapping[str, Any]) -> dict[str, Any]:
    if row.get("success") is None:
        return {"marker": "x"}
    return {"marker": "o", "fillstyle": "full" if row.get("works") else "none"}


def success_vs_rounding(rows: Rows, path: Path) -> Path:
    """Per attack, success at each rounding level per model; filled markers where it works."""
    by_cell = {(r["attack"], r["model"], r["defence"]): r for r in rows}
    levels = ["none", *(f"round-{r:g}" for r in ROUNDING)]
    attacks = _attacks(rows)
    fig, axes = _panels(len(attacks))
    for ax, attack in zip(axes, attacks, strict=False):
        for model in _models(rows, attack):
            cells = [by_cell.get((attack, model, level)) for level in levels]
            x = [i for i, c in enumerate(cells) if plotted(c) is not None]
            (line,) = ax.plot(x, [plotted(cells[i]) for i in x], "-", label=model)
            for i in x:
                ax.plot(i, plotted(cells[i]), color=line.get_color(), linestyle="", **_marker(cells[i]))
            chance = next((c["chance"] for c in cells if c is not None and c.get("chance") is not None), None)
            if chance is not None:
                ax.axhline(chance, color=line.get_color(), linestyle=":", linewidth=1)
        ax.set_xticks(range(len(levels)), ["none", *(f"{r:g}" for r in ROUNDING)])
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("rounding r")
        ax.set_ylabel(SUCCESS_LABEL[ATTACKS[attack].family])
        ax.set_title(ATTACKS[attack].title, fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return saved(
        fig, path, "Attack success vs rounding (dotted: chance; hollow: not above chance; x: never said 'yes')"
    )


def frontier(rows: Rows, path: Path) -> Path:
    """Per attack: each defence as (held-out Brier increase, attack success), and the frontier:
    the least success a defender can reach for at most that cost."""
    attacks = _attacks(rows)
    fig, axes = _panels(len(attacks))
    for ax, attack in zip(axes, attacks, strict=False):
        for model in _models(rows, attack):
            points = sorted(
                (utility_cost(r)["brier"], plotted(r), r["defence"])
                for r in rows
                if r["attack"] == attack
                and r["model"] == model
                and plotted(r) is not None
                and utility_cost(r)["brier"] is not None
            )
            if not points:
                continue
            (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], "o", alpha=0.6, label=model)
            best = np.minimum.accumulate([p[1] for p in points])
            ax.step([p[0] for p in points], best, where="post", color=line.get_color())
            for i, (cost, success, name) in enumerate(points):
                if i == 0 or best[i] < best[i - 1]:
                    ax.annotate(name, (cost, success), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("symlog", linthresh=1e-4)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("held-out Brier increase (defended - clean)")
        ax.set_ylabel(SUCCESS_LABEL[ATTACKS[attack].family])
        ax.set_title(ATTACKS[attack].title, fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return saved(fig, path, "Privacy-utility frontier (step: least success at no more cost; named: frontier points)")


def accuracy_frontier(rows: Rows, model_info: ModelInfo, path: Path) -> Path:
    """Per attack: every (model, output defence) cell as (held-out accuracy, success), training-defended
    models beside their base; squares are training-defended, filled markers work; ε beside the
    undefended-output point of each model that has one; a line joins each base model's Pareto front."""
    attacks = _attacks(rows)
    fig, axes = _panels(len(attacks))
    for ax, attack in zip(axes, attacks, strict=False):
        found = points(rows, model_info, attack)
        colours: dict[str, Any] = {}
        for p in found:
            colour = colours.setdefault(p.base, f"C{len(colours) % 10}")
            ax.plot(
                p.accuracy,
                p.success,
                linestyle="",
                marker="x" if not p.said else ("s" if p.training != "none" else "o"),
                fillstyle="full" if p.works else "none",
                color=colour,
                alpha=0.7,
                label=p.base if p.training == "none" and p.output == "none" else None,
            )
            if p.epsilon is not None and p.output == "none":
                ax.annotate(
                    f"ε={p.epsilon:g}", (p.accuracy, p.success), fontsize=6, xytext=(3, -8), textcoords="offset points"
                )
        for base, colour in colours.items():
            front = pareto([p for p in found if p.base == base])
            ax.step([p.accuracy for p in front], [p.success for p in front], where="post", color=colour, linewidth=0.8)
            for p in front:
                name = p.output if p.training == "none" else f"{p.training}+{p.output}"
                ax.annotate(name, (p.accuracy, p.success), fontsize=5, xytext=(3, 3), textcoords="offset points")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("held-out accuracy under the defences")
        ax.set_ylabel(SUCCESS_LABEL[ATTACKS[attack].family])
        ax.set_title(ATTACKS[attack].title, fontsize=9)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    return saved(
        fig,
        path,
        "Privacy-utility frontier, training and output defences (square: training-defended model; "
        "filled: above chance; x: never said 'yes'; lines: Pareto front per model and its defended versions)",
        fontsize=9,
    )


def _label(name: str) -> int:
    return int(name.removeprefix("recon-").removesuffix(".png"))


def stretched(image: np.ndarray) -> np.ndarray:
    """One grey channel, contrast stretched to [0, 1]: a faint reconstruction is still visible."""
    grey = image[..., 0] if image.ndim == 3 else image
    low, high = float(grey.min()), float(grey.max())
    return (grey - low) / (high - low) if high > low else np.zeros_like(grey)


def _defences(rows: Rows, attack: str, model: str) -> list[str]:
    """The output defences the pair has a cell for, in the sweep's order."""
    present = {r["defence"] for r in rows if r["attack"] == attack and r["model"] == model}
    return [d.name for d in DEFENSES if d.name in present]


def face_grid(
    store: ResultStore,
    attack: str,
    model: str,
    defences: Sequence[str],
    references: Mapping[int, np.ndarray],
    path: Path,
) -> Path | None:
    """Reconstructions of the first identities, one row per defence in ``defences`` (the pair's cells;
    real faces on top when known); None when none of those cells left a reconstruction."""
    rows: list[tuple[str, dict[int, np.ndarray]]] = []
    for defense in defences:
        folder = store.files(f"{attack}.{model}.{defense}")
        found = sorted(folder.glob("recon-*.png")) if folder.is_dir() else []
        images = {_label(p.name): stretched(plt.imread(p)) for p in found}
        rows.append((defense, images))
    labels = sorted({label for _, images in rows for label in images})[:MAX_COLUMNS]
    if not labels:
        return None
    if references:
        rows.insert(0, ("real", {k: v for k, v in references.items() if k in labels}))
    fig, axes = plt.subplots(len(rows), len(labels), figsize=(1.1 * len(labels) + 1, 1.25 * len(rows)), squeeze=False)
    for i, (name, images) in enumerate(rows):
        for j, label in enumerate(labels):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if label in images:
                ax.imshow(images[label], cmap="gray", vmin=0, vmax=1)
            if i == 0:
                ax.set_title(str(label), fontsize=7)
        axes[i, 0].set_ylabel(name, fontsize=7, rotation=0, ha="right", va="center")
    return saved(fig, path, f"{ATTACKS[attack].title} on {model} (contrast stretched)", fontsize=9, dpi=80)


def real_faces(store: ResultStore, model: str) -> dict[int, np.ndarray]:
    """One real image per model class (the evaluator's copy of the data), if the data is here."""
    from attack_clients.attacks.judging import reference_faces

    face_attacks = [name for name, attack in ATTACKS.items() if attack.family == "face"]
    keys = (f"{attack}.{model}.{d.name}" for attack in face_attacks for d in DEFENSES)
    raw = next((r for r in (store.load(k).get("raw") for k in keys if store.done(k)) if r and r.get("classes")), {})
    classes, shape = raw.get("classes"), tuple(raw.get("image_shape") or ())
    if not classes or len(shape) != 2:
        return {}
    references = reference_faces(range(len(classes)), shape, classes)
    if references is None:
        return {}
    return {k: image.reshape(shape) for k, image in enumerate(references)}


def draw_all(rows: Rows, store: ResultStore, folder: Path, model_info: ModelInfo | None = None) -> list[Path]:
    """Every figure of the report, as PNGs in ``folder`` (``model_info``: the service's metadata per model)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [
        success_vs_rounding(rows, folder / "success-vs-rounding.png"),
        frontier(rows, folder / "frontier.png"),
        accuracy_frontier(rows, model_info or {}, folder / "frontier-accuracy.png"),
    ]
    for attack in _attacks(rows):
        if ATTACKS[attack].family != "face":
            continue
        for model in _models(rows, attack):
            grid = face_grid(
                store,
                attack,
                model,
                _defences(rows, attack, model),
                real_faces(store, model),
                folder / f"faces-{attack}-{model}.png",
            )
            if grid is not None:
                paths.append(grid)
    return paths
