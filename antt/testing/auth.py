"""Tokens for tests: a keyring in a temporary directory and tokens, metadata and channels signed with it.

Tests that are not about access control get a service token in one line:

    def test_x(auth_kit: AuthKit) -> None:        # fixture from tests/conftest.py
        settings = ServiceSettings.from_env("registry", {..., **auth_kit.env})
        async with auth_kit.aio_channel(target) as ch: ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc

from antt.auth import client, keys
from antt.auth.keys import Keyring
from antt.auth.tokens import issue

TEST_KID = "test-1"


class AuthKit:
    """A keyring of one test and what it signs: service and per-role tokens, metadata, channels."""

    def __init__(self, keys_dir: Path) -> None:
        keys.generate(keys_dir, TEST_KID)
        self.keys_dir = keys_dir
        self.keyring = Keyring.load(keys_dir)
        self.service_token = client.service_token(keys_dir)

    @property
    def env(self) -> dict[str, str]:
        """Settings that make a service require tokens signed by this keyring."""
        return {"ANTT_AUTH_REQUIRED": "true", "ANTT_AUTH_KEYS_DIR": str(self.keys_dir)}

    @property
    def metadata(self) -> client.Metadata:
        """Call metadata with the service token."""
        return client.bearer_metadata(self.service_token)

    def token(self, role: str, tier: str, jurisdiction: str = "", unit: str = "", subject: str = "") -> str:
        """A token of any principal (e.g. "ministry_operator", "bo")."""
        return issue(self.keyring, subject or f"user:{role}-{unit or jurisdiction or 'vn'}", role, tier,
                     jurisdiction, unit=unit)

    def aio_channel(self, target: str, token: str = "", options: Sequence[tuple[str, Any]] | None = None
                    ) -> grpc.aio.Channel:
        """A grpc.aio channel whose calls carry `token` (default: the service token)."""
        return client.aio_channel(target, token or self.service_token, options)

    def channel(self, target: str, token: str = "", options: Sequence[tuple[str, Any]] | None = None
                ) -> grpc.Channel:
        """A synchronous channel whose calls carry `token` (default: the service token)."""
        return client.channel(target, token or self.service_token, options)


def service_channel(env: Mapping[str, str], target: str) -> grpc.Channel:
    """A synchronous channel to services started with `env`, carrying a service token from their keyring.

    For services run as processes (`antt serve`, `antt dev`): without ANTT_AUTH_KEYS_DIR the token is
    signed with the development key under their ANTT_DATA_DIR.
    """
    return client.channel(target, client.client_token(env))
