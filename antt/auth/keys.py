"""Ed25519 signing keys by key id (kid), loaded from a directory: rotation = add a key, switch `active`.

Layout of the keys directory (ANTT_AUTH_KEYS_DIR, default $ANTT_DATA_DIR/keys):
  <kid>.key   PKCS#8 PEM private key (only where tokens are issued)
  <kid>.pub   PEM public key (enough to verify)
  active      the kid that signs new tokens (default: the last kid in name order)
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEV_KID = "dev-1"


class KeyringError(RuntimeError):
    """The keyring is missing, empty or malformed."""


@dataclass
class Keyring:
    """Public keys by kid, and optionally the private key that signs new tokens."""

    public: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    private: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    active: str = ""

    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        """The kid and private key that sign new tokens."""
        if not self.active or self.active not in self.private:
            raise KeyringError("không có khóa ký / no signing key: add <kid>.key and name it in `active`")
        return self.active, self.private[self.active]

    @classmethod
    def load(cls, directory: Path) -> Keyring:
        """Read every key of `directory`."""
        ring = cls()
        if not directory.is_dir():
            raise KeyringError(f"thư mục khóa không tồn tại / keys directory missing: {directory}")
        for path in sorted(directory.iterdir()):
            kid, suffix = path.stem, path.suffix
            if suffix not in (".key", ".pub") or not KID.match(kid):
                continue
            data = path.read_bytes()
            if suffix == ".key":
                key = serialization.load_pem_private_key(data, password=None)
                if not isinstance(key, Ed25519PrivateKey):
                    raise KeyringError(f"{path} is not an Ed25519 private key")
                ring.private[kid] = key
                ring.public.setdefault(kid, key.public_key())
            else:
                pub = serialization.load_pem_public_key(data)
                if not isinstance(pub, Ed25519PublicKey):
                    raise KeyringError(f"{path} is not an Ed25519 public key")
                ring.public[kid] = pub
        active_file = directory / "active"
        if active_file.exists():
            ring.active = active_file.read_text(encoding="utf-8").strip()
        elif ring.private:
            ring.active = sorted(ring.private)[-1]
        if not ring.public:
            raise KeyringError(f"không có khóa nào / no keys in {directory}")
        return ring


def _write_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Write `path` atomically unless it exists (safe when several processes race); True if written."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def generate(directory: Path, kid: str, activate: bool = True) -> bool:
    """Create a new Ed25519 key pair named `kid` (False if it exists); optionally make it active."""
    if not KID.match(kid):
        raise KeyringError(f"mã khóa không hợp lệ / invalid key id {kid!r}")
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    created = _write_exclusive(directory / f"{kid}.key", private, 0o600)
    if created:
        _write_exclusive(directory / f"{kid}.pub", public, 0o644)
    if activate and created:
        tmp = directory / f".active-{os.getpid()}"
        tmp.write_text(kid + "\n", encoding="utf-8")
        os.replace(tmp, directory / "active")
    return created


def ensure_dev_keyring(directory: Path) -> Keyring:
    """The keyring in `directory`, generating the development key `dev-1` when there is none."""
    has_keys = directory.is_dir() and any(p.suffix in (".key", ".pub") for p in directory.iterdir())
    if not has_keys:
        generate(directory, DEV_KID, activate=False)
        _write_exclusive(directory / "active", (DEV_KID + "\n").encode(), 0o644)
    return Keyring.load(directory)
