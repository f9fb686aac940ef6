"""Tokens: issue/verify round trip, rotation by kid, and every way a token is rejected."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.auth import keys
from antt.auth.config import AuthConfig
from antt.auth.keys import Keyring
from antt.auth.principal import ClaimsError, Principal, Role, Tier
from antt.auth.tokens import TokenError, issue, verify

pytestmark = pytest.mark.unit


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    return keys.ensure_dev_keyring(tmp_path / "keys")


def test_round_trip_carries_every_claim(ring: Keyring) -> None:
    token = issue(ring, "user:can-bo-hp", Role.PROVINCE_OPERATOR, "province", jurisdiction="31")
    p = verify(ring, token)
    assert (p.subject, p.role, p.tier, p.jurisdiction, p.key_id) == (
        "user:can-bo-hp", Role.PROVINCE_OPERATOR, Tier.TINH, "31", "dev-1")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"sub", "role", "tier", "jurisdiction", "exp", "iat", "kid"} <= set(claims)
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    actor = p.actor()
    assert (actor.id, actor.role, actor.tier, actor.jurisdiction) == ("user:can-bo-hp", "province_operator", "tinh", "31")


def test_unit_representative_carries_its_unit(ring: Keyring) -> None:
    p = verify(ring, issue(ring, "user:dai-dien", "unit_representative", "unit", "11948", unit="KDC-0001"))
    assert (p.unit, p.tier) == ("KDC-0001", Tier.DON_VI)


@pytest.mark.parametrize(("role", "tier", "jurisdiction", "unit"), [
    ("province_operator", "tinh", "", ""),            # province without a code
    ("commune_operator", "xa", "31", ""),             # commune with a province code
    ("ministry_operator", "bo", "31", ""),            # ministry with a code
    ("commune_operator", "tinh", "31", ""),           # wrong tier for the role
    ("unit_representative", "don_vi", "11948", ""),   # no unit
    ("auditor", "bo", "", "KDC-1"),                   # unit claim on a non-unit role
    ("chief", "bo", "", ""),                          # unknown role
])
def test_invalid_principals_are_never_signed(ring: Keyring, role: str, tier: str, jurisdiction: str,
                                             unit: str) -> None:
    with pytest.raises(ClaimsError):
        issue(ring, "user:x", role, tier, jurisdiction, unit=unit)


def test_expired_token_is_rejected(ring: Keyring) -> None:
    token = issue(ring, "user:a", "ministry_operator", "bo", ttl_seconds=60, now=time.time() - 3600)
    with pytest.raises(TokenError) as e:
        verify(ring, token)
    assert e.value.reason == "AUTH_TOKEN_EXPIRED"


def test_tampered_token_is_rejected(ring: Keyring) -> None:
    token = issue(ring, "user:a", "commune_operator", "xa", "11948")
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["jurisdiction"] = "00145"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenError) as e:
        verify(ring, f"{header}.{forged}.{sig}")
    assert e.value.reason == "AUTH_TOKEN_INVALID"


def test_wrong_key_and_unknown_kid_are_rejected(tmp_path: Path, ring: Keyring) -> None:
    other = keys.ensure_dev_keyring(tmp_path / "other")  # same kid "dev-1", different key
    with pytest.raises(TokenError) as e:
        verify(ring, issue(other, "user:a", "ministry_operator", "bo"))
    assert e.value.reason == "AUTH_TOKEN_INVALID"
    keys.generate(tmp_path / "other", "k2")
    with pytest.raises(TokenError) as e:
        verify(ring, issue(Keyring.load(tmp_path / "other"), "user:a", "ministry_operator", "bo"))
    assert e.value.reason == "AUTH_KEY_UNKNOWN"


def test_hs256_and_none_algorithms_are_refused(ring: Keyring) -> None:
    claims = {"iss": "antt", "sub": "user:a", "role": "ministry_operator", "tier": "bo", "jurisdiction": "",
              "iat": int(time.time()), "exp": int(time.time()) + 60}
    for token in (jwt.encode(claims, "secret-key-for-test-only-32bytes!", algorithm="HS256",
                             headers={"kid": "dev-1"}),
                  jwt.encode(claims, None, algorithm="none", headers={"kid": "dev-1"})):
        with pytest.raises(TokenError):
            verify(ring, token)


def test_rotation_old_tokens_stay_valid_new_tokens_use_the_new_key(tmp_path: Path, ring: Keyring) -> None:
    old = issue(ring, "user:a", "auditor", "bo")
    assert keys.generate(tmp_path / "keys", "2026-12")
    rotated = Keyring.load(tmp_path / "keys")
    new = issue(rotated, "user:a", "auditor", "bo")
    assert verify(rotated, old).key_id == "dev-1" and verify(rotated, new).key_id == "2026-12"
    (tmp_path / "keys" / "dev-1.key").unlink()
    (tmp_path / "keys" / "dev-1.pub").unlink()
    with pytest.raises(TokenError):
        verify(Keyring.load(tmp_path / "keys"), old)  # retired key: its tokens stop working


def test_config_reads_env_and_generates_a_dev_keyring(tmp_path: Path) -> None:
    cfg = AuthConfig.from_env({"ANTT_DATA_DIR": str(tmp_path)})
    assert (cfg.required, cfg.keys_dir, cfg.default_dir) == (True, tmp_path / "keys", True)
    assert cfg.keyring().active == "dev-1"  # the default directory gets a development key, even when required
    assert oct((tmp_path / "keys" / "dev-1.key").stat().st_mode & 0o777) == "0o600"
    required = AuthConfig.from_env({"ANTT_AUTH_REQUIRED": "true", "ANTT_AUTH_KEYS_DIR": str(tmp_path / "none")})
    with pytest.raises(keys.KeyringError):
        required.keyring()  # production never invents keys


def test_principal_actor_of_system() -> None:
    from antt.actor import SYSTEM
    from antt.auth.principal import SYSTEM_PRINCIPAL

    assert SYSTEM_PRINCIPAL.actor() == SYSTEM
    assert Principal("user:x", Role.SERVICE, Tier.BO, key_id="k").actor().id == "user:x"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=6000), st.binary(max_size=6000).map(lambda b: b.decode("latin-1")),
                 st.lists(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                                  max_size=400), min_size=3, max_size=3).map(".".join),
                 st.integers(min_value=4097, max_value=100_000).map(lambda n: "e" * n)))
def test_random_and_oversized_tokens_only_ever_raise_token_error(token: str) -> None:
    ring = _RING
    with pytest.raises(TokenError):
        verify(ring, token)


_RING = Keyring()
_RING.public["dev-1"] = keys.Ed25519PrivateKey.generate().public_key()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@settings(max_examples=300, deadline=None)
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit"]),
                              st.one_of(st.sampled_from(["EdDSA", "dev-1", "JWT", "none", "HS256"]),
                                        st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3))),
       claims=st.dictionaries(st.sampled_from(["iss", "sub", "role", "tier", "jurisdiction", "unit", "exp",
                                               "iat", "kid"]),
                              st.one_of(st.text(max_size=30), st.integers(), st.floats(allow_nan=True),
                                        st.none(), st.booleans(), st.lists(st.integers(), max_size=3))),
       signature=st.binary(max_size=128))
def test_structured_forgeries_only_ever_raise_token_error(header: dict, claims: dict, signature: bytes) -> None:
    token = ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])
    with pytest.raises(TokenError):
        verify(_RING, token)


def test_target_fields_must_exist_on_the_request() -> None:
    from antt.auth.authz import fields
    from antt.registry.v1 import registry_service_pb2 as pb

    request = pb.MoveUnitRequest(unit_id="u", province_code="31", commune_code="11948")
    target = fields(province="province_code", commune="commune_code", unit="unit_id")(request)
    assert (target.province_code, target.commune_code, target.unit_ref) == ("31", "11948", "u")
    with pytest.raises(LookupError):
        fields(province="province")(request)


def test_cached_verification_answers_as_verify_until_expiry_or_key_removal(ring: Keyring, tmp_path: Path) -> None:
    from antt.auth.tokens import LEEWAY_SECONDS, VerifiedTokens

    cache = VerifiedTokens(ring)
    # a token whose last valid second (exp + leeway) is one second from now
    token = issue(ring, "user:a", "ministry_operator", "bo", ttl_seconds=60, now=time.time() - 59 - LEEWAY_SECONDS)
    assert cache.verify(token) == verify(ring, token)
    calls = []
    real = jwt.decode
    try:
        jwt.decode = lambda *a, **k: calls.append(1) or real(*a, **k)  # type: ignore[assignment]
        assert cache.verify(token) == verify(ring, token) and len(calls) == 1  # the cache skipped one decode
    finally:
        jwt.decode = real  # type: ignore[assignment]
    time.sleep(2.1)  # refused once expired, cached or not, with verify's reason
    for check in (cache.verify, lambda t: verify(ring, t)):
        with pytest.raises(TokenError) as exc:
            check(token)
        assert exc.value.reason == "AUTH_TOKEN_EXPIRED"
    # a key removed from (or replaced in) the keyring revokes its cached tokens at once
    fresh = issue(ring, "user:b", "ministry_operator", "bo")
    assert cache.verify(fresh).subject == "user:b"
    removed = ring.public.pop("dev-1")
    try:
        with pytest.raises(TokenError) as exc:
            cache.verify(fresh)
        assert exc.value.reason == "AUTH_KEY_UNKNOWN"
        ring.public["dev-1"] = keys.Ed25519PrivateKey.generate().public_key()  # same kid, another key
        with pytest.raises(TokenError) as exc:
            cache.verify(fresh)
        assert exc.value.reason == "AUTH_TOKEN_INVALID"
    finally:
        ring.public["dev-1"] = removed
    assert cache.verify(fresh).subject == "user:b"
    # bad tokens are never cached: each is refused as verify refuses it
    for bad in ("", "x.y.z", fresh[:-4] + "AAAA"):
        with pytest.raises(TokenError):
            cache.verify(bad)


def test_cached_verification_is_bounded(ring: Keyring) -> None:
    from antt.auth.tokens import VerifiedTokens

    cache = VerifiedTokens(ring, maxsize=3)
    tokens = [issue(ring, f"user:{i}", "ministry_operator", "bo") for i in range(5)]
    assert [cache.verify(t).subject for t in tokens] == [f"user:{i}" for i in range(5)]
    assert len(cache._cache) == 3
