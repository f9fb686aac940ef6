"""Subcommands `antt token issue|keygen`, `antt agency add` and `antt asyncapi` (wired in antt.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    """Add the token, agency and asyncapi subcommands to `antt`'s subparsers."""
    t = sub.add_parser("token", help="bearer tokens: issue one, or add a signing key (rotation)")
    t_sub = t.add_subparsers(dest="token_command", required=True)
    ti = t_sub.add_parser("issue", help="print a signed token for an operator, auditor, unit or service")
    ti.add_argument("--role", required=True, help="ministry_operator | province_operator | commune_operator | "
                    "unit_representative | auditor | agency_subscriber | service")
    ti.add_argument("--tier", required=True, help="bo | tinh | xa | don_vi (or national | province | commune | unit)")
    ti.add_argument("--jurisdiction", default="", help="official code: 2-digit province, 5-digit commune, '' national")
    ti.add_argument("--unit", default="", help="unit code (unit_representative only)")
    ti.add_argument("--subject", default="", help="token subject (default user:<role>-<jurisdiction>)")
    ti.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds (default 8 h)")
    ti.set_defaults(func=cmd_token_issue)
    tk = t_sub.add_parser("keygen", help="add an Ed25519 signing key and make it active (key rotation)")
    tk.add_argument("--kid", required=True, help="key id, e.g. 2027-01")
    tk.add_argument("--if-missing", action="store_true",
                    help="succeed without change when the key exists (first start of a deployment)")
    tk.set_defaults(func=cmd_token_keygen)
    a = sub.add_parser("agency", help="NATS credentials for agencies that subscribe to events")
    a_sub = a.add_subparsers(dest="agency_command", required=True)
    aa = a_sub.add_parser("add", help="create (or renew) an agency's credentials and regenerate the NATS config")
    aa.add_argument("--name", required=True, help="agency id: a-z, 0-9, -")
    aa.add_argument("--scope", required=True, help="province:<code> or national")
    aa.add_argument("--events", default="", help="comma-separated event types (default: all)")
    aa.set_defaults(func=cmd_agency_add)
    sub.add_parser("asyncapi", help="print the AsyncAPI document of every subject, header and payload"
                   ).set_defaults(func=cmd_asyncapi)


def cmd_token_issue(args: argparse.Namespace) -> int:
    """Print a token signed with the active key of the keyring."""
    from antt.auth.config import AuthConfig
    from antt.auth.keys import KeyringError
    from antt.auth.principal import ClaimsError
    from antt.auth.tokens import issue

    subject = args.subject or f"user:{args.role}-{args.unit or args.jurisdiction or 'vn'}"
    try:
        ring = AuthConfig.from_env().keyring()
        print(issue(ring, subject, args.role, args.tier, args.jurisdiction, unit=args.unit, ttl_seconds=args.ttl))
    except (ClaimsError, KeyringError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_token_keygen(args: argparse.Namespace) -> int:
    """Generate a new key pair in the keys directory and make it the active signing key."""
    from antt.auth.config import AuthConfig
    from antt.auth.keys import KeyringError, generate

    cfg = AuthConfig.from_env()
    try:
        created = generate(cfg.keys_dir, args.kid)
    except KeyringError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not created:
        print(f"khóa đã tồn tại / key exists: {args.kid}", file=sys.stderr)
        return 0 if args.if_missing else 1
    print(f"{cfg.keys_dir / (args.kid + '.pub')}: khóa mới đang dùng để ký / new active signing key "
          "(copy the .pub file to every service's keys directory)")
    return 0


def cmd_agency_add(args: argparse.Namespace) -> int:
    """Store an agency, write its credentials file and regenerate the secured nats-server config."""
    from antt.messaging.natsconfig import AgencyError, NatsAuthStore, new_agency, write_config
    from antt.settings import CommonSettings

    common = CommonSettings.from_env()
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    try:
        agency = new_agency(args.name, args.scope, events)
    except AgencyError as exc:
        print(exc, file=sys.stderr)
        return 2
    creds = NatsAuthStore(common.data_dir).add_agency(agency)
    secured = write_config(common.data_dir, port=common.nats_port)
    print(f"credentials / thông tin đăng nhập: {creds}")
    print(f"nats-server config / cấu hình: {secured.config_path} (reload nats-server: nats-server --signal reload)")
    return 0


def cmd_asyncapi(_args: argparse.Namespace) -> int:
    """Print the AsyncAPI YAML generated from the contracts."""
    from antt.contracts.asyncapi import render

    sys.stdout.write(render())
    return 0


def demo_tokens(keys_dir: Path, province: str, commune: str, unit: str, ttl_seconds: int = 12 * 3600) -> dict[str, str]:
    """A ready-to-use token per role for demo data (what `antt dev` can print)."""
    from antt.auth.keys import ensure_dev_keyring
    from antt.auth.tokens import issue

    ring = ensure_dev_keyring(keys_dir)
    specs = {
        "ministry_operator": ("bo", "", ""), "province_operator": ("tinh", province, ""),
        "commune_operator": ("xa", commune, ""), "unit_representative": ("don_vi", commune, unit),
        "auditor": ("bo", "", ""), "agency_subscriber": ("tinh", province, ""), "service": ("bo", "", ""),
    }
    return {role: issue(ring, f"demo:{role}", role, tier, j, unit=u, ttl_seconds=ttl_seconds)
            for role, (tier, j, u) in specs.items()}
