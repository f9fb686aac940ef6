"""`antt report …`: replay as recorded up to a time, export with progress, rebuild, gap check.

Only argparse is imported at module level: `antt --help` stays fast; the work is imported when run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Sub-commands of `antt report`."""
    sub = p.add_subparsers(dest="report_command", required=True)
    for name, text in (("replay", "rebuild from the streams (as recorded up to --as-of) and print the report"),
                       ("export", "write the live report as xlsx, csv or pdf")):
        q = sub.add_parser(name, help=text)
        q.add_argument("--year", type=int, required=True)
        q.add_argument("--scope", default="national", help="national | province:<code> | commune:<code>")
        q.add_argument("--boundary", default="then", choices=("then", "today"))
        if name == "replay":
            q.add_argument("--as-of", default="", help="RFC 3339 with offset, e.g. 2026-11-15T00:00:00+07:00")
            q.add_argument("--json", action="store_true", help="print the canonical JSON of the report")
        else:
            q.add_argument("--format", default="xlsx", choices=("xlsx", "csv", "pdf"))
            q.add_argument("--out", required=True, help="file to write")
    sub.add_parser("rebuild", help="drop reporting's read models and rebuild them from the streams")
    sub.add_parser("gaps", help="compare the read models with the streams; exit 1 on any gap")


def _settings() -> Any:
    from antt.settings import ServiceSettings

    return ServiceSettings.from_env("reporting")


def _print_report(report: Any, digest: str) -> None:
    t = report.area.total
    print(f"Báo cáo năm {report.year} — {report.area.name} [{report.scope}] (địa giới: {report.boundary.value})")
    print(f"  thuộc phạm vi / in scope: {t.in_scope}  đăng ký / registered: {t.registered}  "
          f"đạt / recognised: {t.recognised}  không đạt / not recognised: {t.not_recognised}  "
          f"thu hồi / revoked: {t.revoked}")
    print(f"  tỷ lệ đạt / recognised: {t.pct_recognised}% (chỉ tiêu / target {report.targets.recognition.label()})"
          f"  Khá trở lên / Khá or above: {t.pct_kha_or_above}% ({report.targets.kha_or_above.label()})")
    print(f"  mức / levels: {t.levels}")
    for sub in report.sub_areas:
        s = sub.total
        print(f"  {sub.code} {sub.name}: {s.recognised}/{s.in_scope} = {s.pct_recognised}%")
    print(f"digest sha256: {digest}")


def run(args: argparse.Namespace) -> int:
    """Run one `antt report` sub-command."""
    import asyncio

    from antt.errors import DomainError

    settings = _settings()
    nats_url = ",".join(settings.common.nats_servers)
    try:
        if args.report_command == "replay":
            from services.reporting.replay import replay

            result = asyncio.run(replay(nats_url, args.year, args.scope, args.as_of, args.boundary))
            if args.json:
                sys.stdout.write(result.report.canonical().decode() + "\n")
            _print_report(result.report, result.digest)
            return 0
        from antt.eventstore.persistence import create_engine

        engine = create_engine(settings.database_url)
        if args.report_command == "export":
            from pathlib import Path

            from services.reporting import exports, queries

            with engine.connect() as conn:
                report = queries.report(conn, args.year, args.scope, args.boundary)
            data = exports.render(report, args.format, progress=lambda done, total: print(
                f"\r{args.format}: {done}/{total}", end="", file=sys.stderr, flush=True))
            print(file=sys.stderr)
            Path(args.out).write_bytes(data)
            print(f"{args.out}: {len(data)} bytes, digest sha256 {report.digest()}")
            return 0
        if args.report_command == "rebuild":
            from services.reporting.replay import checksum, rebuild

            counts = asyncio.run(rebuild(engine, nats_url))
            print(f"rebuilt / đã dựng lại: {counts}; checksum {checksum(engine)}")
            return 0
        from services.reporting.gaps import check

        gaps = asyncio.run(check(engine, nats_url))
        for line in gaps.lines():
            print(line)
        return 0 if gaps.ok else 1
    except DomainError as exc:
        print(f"{exc.reason}: {exc.message}", file=sys.stderr)
        return 2
