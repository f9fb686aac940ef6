"""`antt bench --scale S [--postgres URL] [--out DIR]`: run the bench and write its table and JSON.

Imported by `antt` to build its parser, so the module itself imports nothing heavy.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of `antt bench`."""
    p.add_argument("--scale", type=float, default=0.05, help="1.0 = 34 provinces, 3,321 communes, 200,000 units")
    p.add_argument("--seed", type=int, default=2026, help="seed of the synthetic country")
    p.add_argument("--clients", type=int, default=50, help="concurrent gRPC clients for commands")
    p.add_argument("--postgres", metavar="URL", default=None,
                   help="run on PostgreSQL (temporary databases are created on this server)")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="directory for the JSON and markdown")
    p.add_argument("--docs", type=Path, default=None,
                   help="markdown file whose section for this backend and scale is replaced (e.g. docs/benchmarks.md)")
    p.add_argument("--year-units", type=int, default=None,
                   help="units taken through the full year (default: every unit)")
    p.add_argument("--reference-tree", default="all",
                   help="ANTT_REGISTRY_REFERENCE_TREE for the registry: all (default), none, or province codes")
    p.add_argument("--stage", action="append", default=[], help="run only this stage (repeatable)")


def main(args: argparse.Namespace) -> int:
    """Run the bench; exit 1 when a stage is not correct (counts differ, errors)."""
    from antt.bench.report import update_docs, write_outputs  # heavy imports only when the bench runs
    from antt.bench.results import progress
    from antt.bench.runner import Options, run

    if not 0 < args.scale <= 1.0:
        print(f"--scale must be in (0, 1], got {args.scale} / tỉ lệ phải trong (0, 1]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop like Ctrl-C: the processes are stopped too
    result = run(Options(scale=args.scale, seed=args.seed, clients=args.clients, postgres_url=args.postgres,
                         only=tuple(args.stage), year_units=args.year_units, reference_tree=args.reference_tree))
    json_path, md_path, table = write_outputs(args.out, result.summary, result.stages, result.limits)
    if args.docs is not None:
        update_docs(args.docs, result.summary, table)
        progress(f"updated {args.docs}")
    print(table)
    progress(f"wrote {json_path} and {md_path}")
    if not result.correct:
        progress("NOT CORRECT: a stage has errors or counts that differ from the generated country")
        return 1
    return 0
