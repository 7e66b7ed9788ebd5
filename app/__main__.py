"""Operator commands: ``python -m app prepare | train-defenses | accuracy | utility``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from app import bootstrap
from app.config import INSTANCE_PATH, from_environment
from app.core.defense_config import validate
from app.core.errors import ApiError
from app.core.utility import utility_under
from app.zoo.report import accuracy_table, format_accuracy_table


def _settings() -> dict:
    INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    return from_environment(INSTANCE_PATH)


def prepare(_args: argparse.Namespace) -> int:
    """Database, admin key and trained models: what gunicorn's master runs first."""
    settings = _settings()
    bootstrap.prepare_database(settings)
    bootstrap.load_models(settings)
    return 0


def train_defenses(_args: argparse.Namespace) -> int:
    """Train the defended models MLAAS_TRAINING_DEFENSES selects that are not cached (gunicorn's master starts it)."""
    os.nice(10)  # beside the workers: serving comes first
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = _settings()
    bootstrap.load_models(settings)
    bootstrap.train_defenses(settings)
    return 0


def accuracy(args: argparse.Namespace) -> int:
    """Every built-in model's held-out accuracy, recomputed by the served code (``--json`` for scripts);
    defended models not cached yet are trained first."""
    settings = _settings()
    rows = accuracy_table({**bootstrap.load_models(settings), **bootstrap.train_defenses(settings)})
    print(json.dumps(rows, indent=2) if args.json else format_accuracy_table(rows))
    return 0


def utility(args: argparse.Namespace) -> int:
    """A model's held-out utility under a defence spec."""
    models = bootstrap.load_models(_settings())
    if args.model not in models:
        print(f"no built-in model {args.model!r}; have: {', '.join(models)}", file=sys.stderr)
        return 2
    try:
        pipeline = validate(json.loads(args.spec))
    except (ApiError, json.JSONDecodeError) as exc:
        print(f"invalid defence spec: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(utility_under(models[args.model], pipeline, seed=args.seed), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare", help=prepare.__doc__).set_defaults(func=prepare)
    sub.add_parser("train-defenses", help=train_defenses.__doc__).set_defaults(func=train_defenses)
    acc = sub.add_parser("accuracy", help=accuracy.__doc__)
    acc.add_argument("--json", action="store_true")
    acc.set_defaults(func=accuracy)
    util = sub.add_parser("utility", help=utility.__doc__)
    util.add_argument("--model", required=True)
    util.add_argument("--spec", default="[]", help='defence spec, e.g. \'[{"round": 0.01}]\'')
    util.add_argument("--seed", type=int, default=0)
    util.set_defaults(func=utility)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
