"""Issue and verify bearer tokens: JWT signed with EdDSA (Ed25519), key chosen by the `kid` header."""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jwt

from antt.auth.keys import Keyring
from antt.auth.principal import ClaimsError, Principal, Role, Tier, parse_role, parse_tier

ALGORITHM = "EdDSA"
ISSUER = "antt"
MAX_TOKEN_BYTES = 4096
DEFAULT_TTL_SECONDS = 8 * 3600
LEEWAY_SECONDS = 30


class TokenError(Exception):
    """A token was rejected: reason code plus Vietnamese and English text."""

    def __init__(self, reason: str, message_vi: str, message_en: str) -> None:
        self.reason = reason
        self.message_vi = message_vi
        self.message_en = message_en
        super().__init__(f"{message_vi} / {message_en}")


def issue(keyring: Keyring, subject: str, role: Role | str, tier: Tier | str, jurisdiction: str = "",
          unit: str = "", ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None) -> str:
    """A signed token for a principal (validated first: an invalid principal is never signed)."""
    role = role if isinstance(role, Role) else parse_role(role)
    tier = tier if isinstance(tier, Tier) else parse_tier(tier)
    Principal(subject=subject, role=role, tier=tier, jurisdiction=jurisdiction, unit=unit)
    if ttl_seconds <= 0:
        raise ClaimsError("thời hạn phải dương / ttl must be positive")
    kid, key = keyring.signing_key()
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": subject, "role": role.value, "tier": tier.value, "jurisdiction": jurisdiction,
        "iat": issued, "exp": issued + int(ttl_seconds), "kid": kid, "jti": uuid.uuid4().hex,
    }
    if unit:
        claims["unit"] = unit
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def verify(keyring: Keyring, token: str) -> Principal:
    """The principal of a valid token; TokenError for anything else (never another exception)."""
    return _verify(keyring, token)[0]


def _verify(keyring: Keyring, token: str) -> tuple[Principal, float]:
    """`verify`, also giving the time after which the token is refused (exp + leeway)."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        raise TokenError("AUTH_TOKEN_INVALID", "mã thông báo rỗng hoặc quá dài", "token empty or too long")
    try:
        header = jwt.get_unverified_header(token)
    except Exception:  # noqa: BLE001 - any malformed input is one answer
        raise TokenError("AUTH_TOKEN_INVALID", "mã thông báo sai định dạng", "malformed token") from None
    kid = header.get("kid") if isinstance(header, dict) else None
    if header.get("alg") != ALGORITHM:
        raise TokenError("AUTH_TOKEN_INVALID", "thuật toán ký không được chấp nhận", "signing algorithm not accepted")
    if not isinstance(kid, str) or kid not in keyring.public:
        raise TokenError("AUTH_KEY_UNKNOWN", "khóa ký không được tin cậy (kid lạ)", "unknown signing key (kid)")
    try:
        claims = jwt.decode(token, keyring.public[kid], algorithms=[ALGORITHM], issuer=ISSUER,
                            leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iat", "sub", "iss"], "verify_aud": False})
    except jwt.ExpiredSignatureError:
        raise TokenError("AUTH_TOKEN_EXPIRED", "mã thông báo đã hết hạn", "token expired") from None
    except jwt.InvalidSignatureError:
        raise TokenError("AUTH_TOKEN_INVALID", "chữ ký không hợp lệ", "invalid signature") from None
    except Exception:  # noqa: BLE001 - decode errors of every kind
        raise TokenError("AUTH_TOKEN_INVALID", "mã thông báo không hợp lệ", "invalid token") from None
    try:
        if claims.get("kid", kid) != kid:
            raise ClaimsError("kid mismatch")
        principal = Principal(subject=_str(claims, "sub"), role=parse_role(_str(claims, "role")),
                              tier=parse_tier(_str(claims, "tier")), jurisdiction=_str(claims, "jurisdiction"),
                              unit=_str(claims, "unit"), key_id=kid)
        return principal, float(claims["exp"]) + LEEWAY_SECONDS
    except ClaimsError as exc:
        raise TokenError("AUTH_CLAIMS_INVALID", f"thông tin trong mã không hợp lệ: {exc}",
                         f"invalid token claims: {exc}") from None


def _str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name, "")
    if not isinstance(value, str):
        raise ClaimsError(f"claim {name} must be a string")
    return value


class VerifiedTokens:
    """Verified principals cached by raw token until the token expires, so a client's token is checked once.

    A hit is still refused once the token has expired or its key is no longer the keyring's key for its
    `kid` (a key removed or replaced is revoked for cached tokens too); failures are never cached, so a
    rejected token is checked (and logged) every time as before.
    """

    def __init__(self, keyring: Keyring, maxsize: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self.keyring = keyring
        self.maxsize = maxsize
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[Principal, float, Any]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        """The principal of a valid token (cached when it was verified before); TokenError otherwise."""
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None:
            principal, refused_after, key = hit
            if self.clock() <= refused_after and self.keyring.public.get(principal.key_id) is key:
                return principal
            with self._lock:
                self._cache.pop(token, None)
        principal, refused_after = _verify(self.keyring, token)
        key = self.keyring.public.get(principal.key_id)
        with self._lock:
            self._cache[token] = (principal, refused_after, key)
            while len(self._cache) > self.maxsize:  # oldest verification first: a bounded memory
                self._cache.popitem(last=False)
        return principal
