"""The terminal summary stays readable in a log: every cell's figure printed whole."""

from __future__ import annotations

import io

from rich.console import Console

from attack_clients.evaluate.summary import print_summary
from attack_clients.evaluate.sweep import DEFENSES


def test_a_wide_grid_printed_to_a_file_keeps_every_figure() -> None:
    models = [f"faces-m{i}" for i in range(30)]
    cells = [
        {"attack": "mi-face-wb", "model": m, "defence": d.name, "family": "face", "status": "ok",
         "success": 0.125, "works": True}
        for m in models
        for d in DEFENSES
    ]  # fmt: skip
    summary = {"cells": cells, "rounding_answers": [], "finished_cells": len(cells), "grid_cells": len(cells),
               "run": {"computed": [], "seconds": 1.0}}  # fmt: skip
    out = io.StringIO()
    print_summary(summary, Console(file=out))
    text = out.getvalue()
    assert text.count("0.12") == len(cells)
    assert all(f"m{i} " in text for i in range(30)) and "labels" in text and "r0.05" in text
