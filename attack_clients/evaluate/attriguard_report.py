"""The report's AttriGuard section: each tree attack's success on released answers against the
budget β, with what the release cost (answers changed per respondent)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attack_clients.attacks.attriguard_eval import ATTACKERS, NAMES
from attack_clients.evaluate.document import Block, Heading, Paragraph, Table
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
    for model in sorted({r["model"] for r in rows}):
        documents = [store.load(r["key"]) for r in rows if r["model"] == model]
        documents.sort(key=lambda d: (d["raw"]["parameters"]["attriguard"]["policy"] != "both",
                                      d["raw"]["parameters"]["attriguard"]["policy"],
                                      d["raw"]["parameters"]["attriguard"]["beta"]))  # fmt: skip
        blocks.append(
            Table(
                ("policy", "β", "changed", "% changed", *(ATTACKER_TITLES[w] for w in ATTACKERS), "baseline acc"),
                tuple(_line(d, split) for d in documents),
                f"{model}: attacks on answers released under AttriGuard",
            )
        )
    return blocks
