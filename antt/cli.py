"""The `antt` command: dev | serve | relay | verify | backup | restore | gen-proto."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import sys
from typing import Any

from antt.settings import SERVICES, ServiceSettings


def build_service(name: str) -> Any:
    """Build a service from its composition root, services.<name>.main.build."""
    settings = ServiceSettings.from_env(name)
    logging.basicConfig(level=settings.common.log_level,
                        format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    return importlib.import_module(f"services.{name}.main").build(settings)


async def _serve(name: str, roles: Any) -> int:
    from antt.grpcx.server import ServerBindError
    from antt.runtime import gc_tuning

    service = build_service(name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    upper = name.upper()
    try:
        await service.start(roles)
    except ServerBindError as exc:
        print(f"{exc}: đặt / set ANTT_{upper}_GRPC_PORT", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{exc}: kiểm tra / check ANTT_{upper}_METRICS_PORT, ANTT_NATS_URL", file=sys.stderr)
        return 2
    gc_tuning.tune(service.settings.common.gc_young_threshold)  # the process's own choice: not inside Service (tests embed it)
    await stop.wait()
    await service.stop()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run one service (all of its parts unless told otherwise)."""
    from antt.runtime.service import Roles

    roles = Roles(grpc=not args.no_grpc, relay=not args.no_relay, consumers=not args.no_consumers,
                  metrics=not args.no_metrics)
    return asyncio.run(_serve(args.service, roles))


def cmd_relay(args: argparse.Namespace) -> int:
    """Run only the outbox relay of a service."""
    from antt.runtime.service import Roles

    return asyncio.run(_serve(args.service, Roles(grpc=False, relay=True, consumers=False, metrics=False)))


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute every hash chain in a service's event store (--all: every store and stream)."""
    if args.all:
        return _verify_all()
    if args.service is None:
        print("name a service or use --all / nêu tên dịch vụ hoặc dùng --all", file=sys.stderr)
        return 2
    service = build_service(args.service)
    app = service.parts.app
    if app is None:
        print(f"{args.service} has no event store / không có kho sự kiện", file=sys.stderr)
        return 2
    breaks = app.verify_chains()
    for b in breaks:
        print(f"BROKEN / HỎNG: {b}")
    if breaks:
        return 1
    print(f"{args.service}: every hash chain verifies / mọi chuỗi băm đều khớp")
    return 0


def _verify_all() -> int:
    """Every service's hash chains, and every published event against the store that published it."""
    from antt.ops.verify import publishes, stream_mismatches

    failures = 0
    for name in SERVICES:
        service = build_service(name)
        app = service.parts.app
        if app is None:
            print(f"{name}: no event store / không có kho sự kiện")
            continue
        problems = [f"BROKEN / HỎNG: {b}" for b in app.verify_chains()]
        if publishes(name):
            problems += stream_mismatches(name, app, service.settings.common.nats_servers)
        for p in problems:
            print(f"{name}: {p}")
        failures += len(problems)
        if not problems:
            print(f"{name}: every hash chain and published event verifies / mọi chuỗi băm và sự kiện đã phát đều khớp")
    return 1 if failures else 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Back up every service's store and every JetStream stream into a new directory."""
    from pathlib import Path

    from antt.errors import DomainError
    from antt.ops.backup import backup

    try:
        manifest = backup(Path(args.out))
    except DomainError as exc:
        print(f"{exc.reason}: {exc.message}", file=sys.stderr)
        return 1
    count = sum(s["messages"] for s in manifest["streams"].values())
    print(f"backup / sao lưu: {len(manifest['stores'])} stores, {count} stream messages -> {args.out}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into a fresh installation (empty databases and streams)."""
    from pathlib import Path

    from antt.errors import DomainError
    from antt.ops.backup import restore

    try:
        result = restore(Path(args.from_dir))
    except DomainError as exc:
        print(f"{exc.reason}: {exc.message}", file=sys.stderr)
        return 1
    count = sum(s["messages"] for s in result["streams"].values())
    print(f"restore / khôi phục: {len(result['stores'])} stores, {count} stream messages <- {args.from_dir}")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """Run everything on this machine."""
    from antt.runtime import dev

    return dev.run(demo=args.demo)


def cmd_import(args: argparse.Namespace) -> int:
    """Bulk-import units or areas from CSV/XLSX into a running registry (services/registry/importing)."""
    from services.registry.importing.cli import run_import

    return run_import(args.file, dry_run=args.dry_run, target=args.registry, what=args.what)


def cmd_console(_args: argparse.Namespace) -> int:
    """Serve the operator console (services/console) on ANTT_CONSOLE_PORT."""
    from services.console.app import run

    return run()


def cmd_gen_proto(_args: argparse.Namespace) -> int:
    """Generate code from proto/."""
    from antt.contracts import gen

    gen.main()
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the national-scale benchmark."""
    from antt.bench import cli as bench_cli

    return bench_cli.main(args)


def cmd_report(args: argparse.Namespace) -> int:
    """Reports: replay as recorded up to a time, export, rebuild the read models, check for gaps."""
    from services.reporting import cli as report_cli

    return report_cli.run(args)


def parser() -> argparse.ArgumentParser:
    """The argument parser of `antt`."""
    p = argparse.ArgumentParser(prog="antt", description="antt: phong trào toàn dân bảo vệ an ninh Tổ quốc")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dev", help="run nats-server and the four services locally")
    d.add_argument("--demo", action="store_true", help="load the demo data set")
    d.set_defaults(func=cmd_dev)
    s = sub.add_parser("serve", help="run one service")
    s.add_argument("service", choices=SERVICES)
    for part in ("grpc", "relay", "consumers", "metrics"):
        s.add_argument(f"--no-{part}", action="store_true", help=f"do not run the {part} part")
    s.set_defaults(func=cmd_serve)
    r = sub.add_parser("relay", help="run only a service's outbox relay")
    r.add_argument("service", choices=SERVICES)
    r.set_defaults(func=cmd_relay)
    v = sub.add_parser("verify", help="verify the hash chains of a service's event store")
    v.add_argument("service", choices=SERVICES, nargs="?")
    v.add_argument("--all", action="store_true", help="every store, and every stream against its store")
    v.set_defaults(func=cmd_verify)
    b = sub.add_parser("backup", help="back up every store and JetStream stream")
    b.add_argument("--out", required=True, help="new directory for the backup")
    b.set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="restore a backup into a fresh installation")
    rs.add_argument("--from", dest="from_dir", required=True, help="directory written by `antt backup`")
    rs.set_defaults(func=cmd_restore)
    im = sub.add_parser("import", help="bulk-import into a running registry (CSV or XLSX)")
    im_sub = im.add_subparsers(dest="what", required=True)
    for what in ("units", "areas"):
        iu = im_sub.add_parser(what, help=f"import {what}: every row is checked; all are saved, or none")
        iu.add_argument("file", help=".csv or .xlsx with a header row (Vietnamese or English column names)")
        iu.add_argument("--dry-run", action="store_true", help="check and report every bad row; write nothing")
        iu.add_argument("--registry", default="", metavar="HOST:PORT",
                        help="registry gRPC address (default 127.0.0.1:$ANTT_REGISTRY_GRPC_PORT)")
        iu.set_defaults(func=cmd_import)
    from antt.auth import cli as auth_cli  # token | agency | asyncapi (issue 7)

    auth_cli.add_parsers(sub)
    sub.add_parser("console", help="serve the operator web console (ANTT_CONSOLE_PORT)").set_defaults(func=cmd_console)
    g = sub.add_parser("gen-proto", help="generate Python code from proto/")
    g.set_defaults(func=cmd_gen_proto)
    b = sub.add_parser("bench", help="national-scale benchmark on the embedded stack (or --postgres URL)")
    _bench_arguments(b)
    b.set_defaults(func=cmd_bench)
    rp = sub.add_parser("report", help="reports: replay | export | rebuild | gaps")
    _report_arguments(rp)
    rp.set_defaults(func=cmd_report)
    return p


def _report_arguments(p: argparse.ArgumentParser) -> None:
    from services.reporting import cli as report_cli

    report_cli.add_arguments(p)


def _bench_arguments(p: argparse.ArgumentParser) -> None:
    from antt.bench import cli as bench_cli

    bench_cli.add_arguments(p)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `antt` console script."""
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
