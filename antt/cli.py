"""The `antt` command: dev | serve <service> | relay <service> | verify <service> | gen-proto."""

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
    """Recompute every hash chain in a service's event store."""
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


def cmd_dev(args: argparse.Namespace) -> int:
    """Run everything on this machine."""
    from antt.runtime import dev

    return dev.run(demo=args.demo)


def cmd_gen_proto(_args: argparse.Namespace) -> int:
    """Generate code from proto/."""
    from antt.contracts import gen

    gen.main()
    return 0


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
    v.add_argument("service", choices=SERVICES)
    v.set_defaults(func=cmd_verify)
    g = sub.add_parser("gen-proto", help="generate Python code from proto/")
    g.set_defaults(func=cmd_gen_proto)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `antt` console script."""
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
