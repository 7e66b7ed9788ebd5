"""The terminal summary: success of every attack under every defence, and the rounding answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from attack_clients.attacks import ATTACKS
from attack_clients.evaluate.sweep import DEFENSES

LOG_WIDTH = 200
"""Columns of the summary written to a file or pipe, where rich would assume 80 and squeeze the table."""
MEASURE = {"face": "face recogniser top-1", "tree": "precision of 'yes' on training targets ('-': never said yes)"}


def _short_attack(attack: str) -> str:
    return ATTACKS[attack].short if attack in ATTACKS else attack


def _short_model(model: str) -> str:
    return model.removeprefix("faces-").removesuffix("-tree")


def _short_defense(name: str) -> str:
    for long, short in (("round-", "r"), ("gaussian-", "g"), ("laplace-", "l"), ("label-only", "labels")):
        name = name.replace(long, short)
    return name


def success_table(rows: Sequence[Mapping[str, Any]], family: str) -> Table | None:
    """Attack x model down, defences across (there are far more of the first); green where it beats chance."""
    by_cell = {(r["attack"], r["model"], r["defence"]): r for r in rows}
    order = [name for name, attack in ATTACKS.items() if attack.family == family]
    pairs = sorted(
        {(r["attack"], r["model"]) for r in rows if r["family"] == family}, key=lambda p: (order.index(p[0]), p[1])
    )
    if not pairs:
        return None
    table = Table(
        title=f"{family} attacks: {MEASURE[family]}; green = above chance",
        caption="r: rounding, g: Gaussian noise, l: Laplace noise (scale)",
    )
    table.add_column("attack model", no_wrap=True)
    for defense in DEFENSES:
        table.add_column(_short_defense(defense.name), justify="right", no_wrap=True)
    for attack, model in pairs:
        cells = []
        for defense in DEFENSES:
            row = by_cell.get((attack, model, defense.name))
            if row is None:
                cells.append("")
            elif row.get("status") != "ok":
                cells.append("n/a")
            elif row.get("success") is None:
                cells.append("-")
            else:
                style = "green" if row.get("works") else "dim"
                cells.append(f"[{style}]{row['success']:.2f}[/{style}]")
        table.add_row(f"{_short_attack(attack)} {_short_model(model)}", *cells)
    return table


def print_summary(summary: Mapping[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:
        console.width = max(console.width, LOG_WIDTH)
    for family in ("face", "tree"):
        table = success_table(summary["cells"], family)
        if table is not None:
            console.print(table)
    for answer in summary["rounding_answers"]:
        console.print(f"[bold]{answer['attack']}[/bold] on {answer['model']}: {answer['sentence']}")
    run = summary["run"]
    console.print(
        f"{summary['finished_cells']}/{summary['grid_cells']} cells; computed {len(run['computed'])} now in "
        f"{run['seconds']:.0f} s; {len(summary.get('failed') or {})} failed."
    )
