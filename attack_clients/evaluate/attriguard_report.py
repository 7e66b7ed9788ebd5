"""The report's AttriGuard section: each tree attack's success on released answers against the
budget β, with what the release cost (answers changed per respondent), as tables and a figure."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from attack_clients.attacks.attriguard_eval import ATTACKERS, NAMES
from attack_clients.evaluate.document import Block, Figure, Heading, Paragraph, Table
from attack_clients.evaluate.figures import saved
from attack_clients.evaluate.store import ResultStore

ATTACKER_TITLES = {"map": "MAP", "wbwc": "WBWC", "own": "own clf."}


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}"


def _line(document: Mapping[str, Any], split: str) -> tuple[str, ...]:
    raw = document.get("raw") or {}
    setting = raw["parameters"]["attriguard"]
    measured = raw["metrics"][split]
    changed = measured["changed"]
    scores = tuple(
        f"{_pct(m['accuracy'])} / {_pct(m['precision'])} / {_pct(m['recall'])}"
        for m in (measured["attackers"][who] for who in ATTACKERS)
    )
    return (
        setting["policy"],
        f"{setting['beta']:g}",
        f"{changed['mean']:.2f} ({changed['expected']:.2f})",
        _pct(changed["share_changed"]),
        *scores,
        _pct(measured["baseline"]["accuracy"]),
    )


def _setting(document: Mapping[str, Any]) -> Mapping[str, Any]:
    return document["raw"]["parameters"]["attriguard"]


def draw(documents: Mapping[str, list[Mapping[str, Any]]], split: str, path: Path) -> Path:
    """Per tree, each attacker's precision of "yes" against the answers changed per respondent
    (policy "both", one point per β, labelled), and chance (the share of "yes")."""
    fig, axes = plt.subplots(1, len(documents), figsize=(5 * len(documents), 3.8), squeeze=False)
    for ax, (model, cells) in zip(axes.ravel(), documents.items(), strict=True):
        sweep = sorted((d for d in cells if _setting(d)["policy"] == "both"), key=lambda d: _setting(d)["beta"])
        changed = [d["raw"]["metrics"][split]["changed"]["mean"] for d in sweep]
        for who in ATTACKERS:
            precision = [d["raw"]["metrics"][split]["attackers"][who]["precision"] for d in sweep]
            shown = [(x, y) for x, y in zip(changed, precision, strict=True) if y is not None]
            if shown:
                ax.plot(*zip(*shown, strict=True), "o-", label=ATTACKER_TITLES[who])
        for x, d in zip(changed, sweep, strict=True):
            ax.annotate(f"β={_setting(d)['beta']:g}", (x, 0.0), fontsize=7, rotation=90, va="bottom")
        if sweep:
            ax.axhline(sweep[0]["raw"]["metrics"][split]["random"]["precision"], color="grey", linestyle=":")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("answers changed per respondent")
        ax.set_ylabel(f"precision of 'yes' ({split})")
        ax.set_title(model, fontsize=9)
        ax.legend(fontsize=7)
    return saved(fig, path, "Tree attacks under AttriGuard (dotted: chance; a missing point: no 'yes' announced)")


def attriguard_section(summary: Mapping[str, Any], out: Path, split: str = "training") -> list[Block]:
    """One table per tree model, a row per finished AttriGuard cell (by policy, then β); nothing without any."""
    store = ResultStore(out)
    rows = [r for r in summary["cells"] if r["attack"] in NAMES and r.get("status") == "ok" and store.done(r["key"])]
    if not rows:
        return []
    blocks: list[Block] = [
        Heading("AttriGuard: the tree attacks on perturbed released answers"),
        Paragraph(
            "The data publisher releases every target's public answers (the model's other fields and the label) "
            "perturbed by AttriGuard: its own logistic regression of the sensitive answer from the public ones, "
            "fitted on all targets, is pushed towards the targets' share of each sensitive value, spending at most "
            "β changed answers per respondent in expectation. The attackers then infer the sensitive answer from "
            "the released answers: black-box MAP through the API, white-box with counts (WBWC) over the downloaded "
            "tree, and their own classifier trained on other respondents' released answers (cross-fitted). Cells: "
            "accuracy / precision / recall of the sensitive 'yes' in percent, on the "
            f"{split} targets; changed: answers changed per respondent, realised (expected)."
        ),
    ]
    documents = {
        model: sorted(
            (store.load(r["key"]) for r in rows if r["model"] == model),
            key=lambda d: (_setting(d)["policy"] != "both", _setting(d)["policy"], _setting(d)["beta"]),
        )
        for model in sorted({r["model"] for r in rows})
    }
    for model, cells in documents.items():
        blocks.append(
            Table(
                ("policy", "β", "changed", "% changed", *(ATTACKER_TITLES[w] for w in ATTACKERS), "baseline acc"),
                tuple(_line(d, split) for d in cells),
                f"{model}: attacks on answers released under AttriGuard",
            )
        )
    figure = draw(documents, split, out / "figures" / "attriguard.png")
    blocks.append(Figure(figure, "Precision of 'yes' against the answers AttriGuard changed per respondent"))
    return blocks
