"""Authentication settings from ANTT_AUTH_* (declared in antt.settings) and the keyring they name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from antt.auth.keys import Keyring, ensure_dev_keyring
from antt.settings import CommonSettings


@dataclass(frozen=True)
class AuthConfig:
    """Whether tokens are required, where the keys are, and whether that is the default directory."""

    required: bool
    keys_dir: Path
    default_dir: bool = False  # $ANTT_DATA_DIR/keys: a development key is generated there on first use

    @classmethod
    def from_settings(cls, common: CommonSettings) -> AuthConfig:
        """The authentication part of a process's common settings."""
        return cls(required=common.auth_required, keys_dir=common.auth_keys_dir,
                   default_dir=not common.auth_keys_configured)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthConfig:
        """Read ANTT_AUTH_REQUIRED and ANTT_AUTH_KEYS_DIR (default $ANTT_DATA_DIR/keys)."""
        return cls.from_settings(CommonSettings.from_env(env))

    def keyring_dir(self) -> Path:
        """The keys directory, with a development key generated first where that is allowed."""
        self.keyring()
        return self.keys_dir

    def keyring(self) -> Keyring:
        """The keyring; the default directory (or any, when tokens are optional) gets a development key.

        A directory named explicitly with tokens required must already hold keys: production never
        invents them.
        """
        if self.default_dir or not self.required:
            return ensure_dev_keyring(self.keys_dir)
        return Keyring.load(self.keys_dir)
