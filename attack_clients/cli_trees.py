"""What the tree commands (``tree-map``, ``tree-wbwc``) print after a run: every set's metrics and the cost."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from attack_clients.attacks.base import AttackResult


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_result(result: AttackResult, path: Path) -> None:
    document = result.document
    table = Table(title=f"{document['attack']} on {document['model']} ({document['parameters']['sensitive']})")
    for column in ("set", "who", "n", "accuracy", "precision", "recall"):
        table.add_column(column)
    for name, row in document["metrics"].items():
        for who in ("attack", "baseline", "random", "ideal"):
            m = row[who]
            table.add_row(name, who, str(m["n"]), _fmt(m["accuracy"]), _fmt(m["precision"]), _fmt(m["recall"]))
    console = Console()
    console.print(table)
    console.print(
        f"{document['queries']} requests, {document['rows']} rows, {document['bytes_sent']} B sent, "
        f"{document['bytes_received']} B received, {document['seconds']:.2f} s"
    )
    print(f"results: {path}")
