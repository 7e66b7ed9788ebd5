"""The terminal summary: success of every attack under every defence, and the rounding answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from attack_clients.attacks import ATTACKS
from attack_clients.evaluate.sweep import DEFENSES

MEASURE = {"face": "face recogniser top-1", "tree": "precision of 'yes' on training targets ('-': never said yes)"}


def _short_attack(attack: str) -> str:
    return ATTACKS[attack].short if attack in ATTACKS else attack


def _short_model(model: str) -> str:
    return model.removeprefix("faces-").removesuffix("-tree")


def success_table(rows: Sequence[Mapping[str, Any]], family: str) -> Table | None:
    """Defences down, attack x model across; green where the attack beats chance."""
    by_cell = {(r["attack"], r["model"], r["defence"]): r for r in rows}
    order = [name for name, attack in ATTACKS.items() if attack.family == family]
    pairs = sorted(
        {(r["attack"], r["model"]) for r in rows if r["family"] == family}, key=lambda p: (order.index(p[0]), p[1])
    )
    if not pairs:
        return None
    table = Table(title=f"{family} attacks: {MEASURE[family]}; green = above chance")
    table.add_column("defence")
    for attack, model in pairs:
        table.add_column(f"{_short_attack(attack)} {_short_model(model)}", justify="right")
    for defense in DEFENSES:
        cells = []
        for attack, model in pairs:
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
        table.add_row(defense.name, *cells)
    return table


def print_summary(summary: Mapping[str, Any], console: Console | None = None) -> None:
    console = console or Console()
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
