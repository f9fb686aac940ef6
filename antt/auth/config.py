"""Authentication settings from ANTT_AUTH_* (declared in antt.settings) and the keyring they name."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from antt.auth.keys import Keyring, ensure_dev_keyring
from antt.settings import all_vars

TRUE = {"1", "true", "yes", "on"}


def _get(env: Mapping[str, str], name: str) -> str:
    default = next(v.default for v in all_vars() if v.name == name)
    return env.get(name, "") or default


@dataclass(frozen=True)
class AuthConfig:
    """Whether tokens are required and where the keys are."""

    required: bool
    keys_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthConfig:
        """Read ANTT_AUTH_REQUIRED and ANTT_AUTH_KEYS_DIR (default $ANTT_DATA_DIR/keys)."""
        e = os.environ if env is None else env
        keys = _get(e, "ANTT_AUTH_KEYS_DIR") or str(Path(_get(e, "ANTT_DATA_DIR")) / "keys")
        return cls(required=_get(e, "ANTT_AUTH_REQUIRED").strip().lower() in TRUE, keys_dir=Path(keys))

    def keyring(self) -> Keyring:
        """The keyring; the default directory gets a development key when it has none."""
        return ensure_dev_keyring(self.keys_dir) if not self.required else Keyring.load(self.keys_dir)
