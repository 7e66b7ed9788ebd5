"""``python -m attack_clients <attack> --url URL --key KEY --model NAME --out DIR [options]``.

One subcommand per registered attack command (``attacks.COMMANDS``), its flags
made from the command's ``Params`` fields, plus ``evaluate`` and ``judge``. Every attack run
writes ``DIR/results.json`` (parameters, cost, metrics); an attack that cannot
run against the target says why and exits with 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from attack_clients import cli_evaluate, cli_faces, cli_judge, cli_trees
from attack_clients.attacks import COMMANDS, AttackNotApplicable, Command, Params, Target
from attack_clients.attacks.base import flag
from attack_clients.attacks.output import write_result
from attack_clients.clients import DIALECTS
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


def target_from_args(args: argparse.Namespace) -> Target:
    """The target the options describe (progress bars only on a terminal)."""
    return Target(
        url=args.url,
        key=args.key,
        model=args.model,
        dialect=args.dialect,
        max_rows=args.max_rows,
        batch_size=args.batch_size,
        username=args.username,
        workspace=args.workspace,
        timeout=args.timeout,
        progress=sys.stderr.isatty(),
    )


def _value_type(hint: Any) -> Any:
    """``int`` of ``int | None``: what argparse converts a flag's text to."""
    if get_origin(hint) in (Union, types.UnionType):
        hint = next(h for h in get_args(hint) if h is not type(None))
    return hint


def add_params_arguments(parser: argparse.ArgumentParser, params: type[Params]) -> None:
    """One flag per field of ``params``: ``--field-name``, its default, type, choices and help."""
    hints = get_type_hints(params)
    for spec in dataclasses.fields(params):
        meta = spec.metadata
        if hints[spec.name] is bool:
            parser.add_argument(flag(spec.name), dest=spec.name, action="store_true", help=meta.get("help"))
            continue
        parser.add_argument(
            flag(spec.name),
            dest=spec.name,
            type=meta.get("parse") or _value_type(hints[spec.name]),
            default=spec.default,
            choices=meta.get("choices"),
            metavar=meta.get("metavar"),
            help=meta.get("help"),
        )


def params_from_args(params: type[Params], args: argparse.Namespace) -> Params:
    return params(**{spec.name: getattr(args, spec.name) for spec in dataclasses.fields(params)})


def run_command(command: Command, args: argparse.Namespace) -> int:
    """Run one attack and write its files; 2 (and the reason, on stderr) when it does not apply."""
    try:
        result = command.run(target_from_args(args), params_from_args(command.params, args))
    except AttackNotApplicable as error:
        if error.document is not None:
            write_json(args.out / "results.json", error.document)
        print(f"{command.name}: {error}", file=sys.stderr)
        return 2
    path = write_result(result, args.out)
    if command.family == "face":
        cli_faces.print_result(result, path)
    else:
        cli_trees.print_result(result, path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attack_clients",
        description="Model-inversion attacks against the prediction service, through its API only.",
    )
    subparsers = parser.add_subparsers(dest="attack", required=True, metavar="ATTACK")
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.help, description=command.description)
        add_target_arguments(sub)
        add_params_arguments(sub, command.params)
        sub.set_defaults(handler=lambda args, command=command: run_command(command, args))
    cli_evaluate.register(subparsers)
    cli_judge.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)
