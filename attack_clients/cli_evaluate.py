"""``python -m attack_clients evaluate --profile quick|full --out DIR [--url URL --key KEY]
[--scheduler ADDRESS] [--workers N]``: every attack against every defence, and a report.

Without ``--url`` a fresh service is started on a free loopback port (new
database and admin key; models from the cache, data from ``MLAAS_DATA_DIR``).
Results are resumable: a cell stored under ``DIR/cells/`` is never computed
again, so an interrupted run continues where it stopped. With ``--scheduler``
the cells run on a Dask cluster's workers, which need this package importable
and, for the evaluator and the tree targets, the same ``MLAAS_DATA_DIR`` path.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from attack_clients.evaluate.sweep import PROFILES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand to a CLI."""
    parser = subparsers.add_parser(
        "evaluate",
        help="run the attack x defence x model sweep and write a report",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="quick",
        help="quick: minutes on 2 cores; full: all identities, the paper's settings; tiny: smoke test only",
    )
    parser.add_argument("--out", required=True, type=Path, help="folder for results, figures and reports")
    parser.add_argument("--url", help="a running service (default: start one on a free loopback port)")
    parser.add_argument("--key", help="the admin key of --url")
    parser.add_argument("--scheduler", help="a Dask scheduler address (default: local worker processes)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="local worker processes (default 2; the cluster decides with --scheduler)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only cells whose key (attack.model.defence) matches; repeatable, e.g. 'tree-*'",
    )
    parser.add_argument("--server-workers", type=int, default=2, help="gunicorn workers of a started service")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the summary table; exit 1 if any cell failed (rerun to retry it)."""
    import requests

    from attack_clients.evaluate.run import Options, evaluate
    from attack_clients.evaluate.service import ServiceError
    from attack_clients.evaluate.summary import print_summary

    started = time.perf_counter()
    options = Options(
        profile=PROFILES[args.profile],
        out=args.out,
        url=args.url,
        key=args.key,
        scheduler=args.scheduler,
        workers=args.workers,
        only=tuple(args.only),
        progress=not args.quiet,
        server_workers=args.server_workers,
    )
    try:
        summary = evaluate(options)
    except (ServiceError, requests.RequestException, ValueError) as error:
        print(f"evaluate: {error}")
        return 2
    print_summary(summary)
    print(
        f"wrote {args.out}/results.json, results.csv, report.html, report.md and figures/ "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return 1 if summary["failed"] else 0
