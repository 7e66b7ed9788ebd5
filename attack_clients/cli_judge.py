"""``python -m attack_clients judge DIR [DIR...] [--data DATA_DIR] [--model NAME]``: re-judge finished runs.

Scores the ``recon-<label>.png`` files of each folder with the judging panel
(face recogniser, evaluation network, pixel evaluator, SSIM) and writes
``DIR/judged.json`` with the same ``"judges"`` object a fresh run writes, so
outputs made before the panel existed can be compared with new ones.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from attack_clients.judges.rescore import rescore


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``judge`` subcommand to a CLI."""
    parser = subparsers.add_parser(
        "judge", help="re-score the reconstructions of finished runs", description=__doc__.split("\n\n", 1)[1]
    )
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="folders holding recon-<label>.png")
    parser.add_argument("--data", type=Path, help="the data folder (default: MLAAS_DATA_DIR)")
    parser.add_argument(
        "--model",
        help="the served model the labels index (default: the classes results.json records, else the zoo's order: "
        "s1 ... s40 as 0 ... 39)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.data is not None:
        os.environ["MLAAS_DATA_DIR"] = str(args.data)
    failed = 0
    for folder in args.folders:
        try:
            document = rescore(folder, args.model, args.seed)
        except (FileNotFoundError, ValueError) as error:
            print(f"judge: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{folder}/judged.json: {_line(document)}")
    return 2 if failed else 0


def _line(document: dict) -> str:
    parts = []
    for name, verdict in document["judges"].items():
        if not verdict.get("applies"):
            parts.append(f"{name} n/a")
        elif "top1" in verdict:
            parts.append(f"{name} top-1 {verdict['top1']:.3f}")
        else:
            parts.append(f"{name} {verdict['mean']:.3f}")
    return "; ".join(parts)
