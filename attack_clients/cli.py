"""``python -m attack_clients <attack> --url URL --key KEY --model NAME --out DIR [options]``.

Each attack family registers its subcommands (``register(subparsers)``) and
sets ``handler``: a function of the parsed arguments returning the exit code.
Every run writes ``DIR/results.json`` (parameters, cost, metrics).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attack_clients.clients import DIALECTS, HttpClient, connect
from attack_clients.jsonfile import write_json


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say which service, model and output every attack uses."""
    target = parser.add_argument_group("target")
    target.add_argument("--url", required=True, help="base URL of the service, e.g. http://127.0.0.1:5000")
    target.add_argument("--key", required=True, help="API key (sent as Bearer, and as api_key for BigML)")
    target.add_argument("--model", required=True, help="model name (or BigML resource id)")
    target.add_argument("--out", required=True, type=Path, help="directory for results.json")
    target.add_argument("--dialect", choices=DIALECTS, default="v2", help="wire dialect to query (default v2)")
    target.add_argument("--max-rows", type=int, default=None, help="row budget: stop before exceeding it")
    target.add_argument("--batch-size", type=int, default=None, help="rows per request (default: by row width)")
    target.add_argument("--username", help="BigML username (must own the key; default: send only the key)")
    target.add_argument("--workspace", default="default", help="classic Azure workspace (default default)")
    target.add_argument("--timeout", type=float, default=300.0, help="seconds per HTTP request")


def client_from_args(args: argparse.Namespace, dialect: str | None = None) -> HttpClient:
    """The client the target options describe (``dialect`` overrides ``--dialect``)."""
    dialect = dialect or args.dialect
    options: dict[str, Any] = {
        "max_rows": args.max_rows,
        "batch_size": args.batch_size,
        "timeout": args.timeout,
        "progress": sys.stderr.isatty(),
    }
    if dialect == "bigml":
        options["username"] = args.username
    if dialect == "azure-classic":
        options["workspace"] = args.workspace
    return connect(args.url, args.key, args.model, dialect, **options)


def write_results(out: Path, results: Mapping[str, Any]) -> Path:
    """``out/results.json``, numpy values made plain."""
    path = out / "results.json"
    write_json(path, results)
    return path


def build_parser() -> argparse.ArgumentParser:
    from attack_clients import cli_evaluate, cli_faces, cli_trees

    parser = argparse.ArgumentParser(
        prog="python -m attack_clients",
        description="Model-inversion attacks against the prediction service, through its API only.",
    )
    subparsers = parser.add_subparsers(dest="attack", required=True, metavar="ATTACK")
    cli_faces.register(subparsers)
    cli_trees.register(subparsers)
    cli_evaluate.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)
