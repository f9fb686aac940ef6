"""Who is calling: roles, tiers, jurisdiction codes and the authenticated principal."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from antt.actor import SYSTEM, Actor

PROVINCE_CODE = re.compile(r"^[0-9]{2}$")
COMMUNE_CODE = re.compile(r"^[0-9]{5}$")
UNIT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SUBJECT = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class Role(enum.Enum):
    """Roles a token can carry."""

    MINISTRY_OPERATOR = "ministry_operator"
    PROVINCE_OPERATOR = "province_operator"
    COMMUNE_OPERATOR = "commune_operator"
    UNIT_REPRESENTATIVE = "unit_representative"
    AUDITOR = "auditor"
    AGENCY_SUBSCRIBER = "agency_subscriber"
    SERVICE = "service"


class Tier(enum.Enum):
    """Administrative tier of the caller (values as in the assessment rule set, plus the unit)."""

    BO = "bo"          # Bộ Công an: national
    TINH = "tinh"      # tỉnh, thành phố
    XA = "xa"          # xã, phường, đặc khu
    DON_VI = "don_vi"  # a unit of the movement (its representative)


# Friendlier spellings accepted on the command line and in tokens written by hand.
TIER_ALIASES = {"national": Tier.BO, "ministry": Tier.BO, "province": Tier.TINH, "commune": Tier.XA,
                "unit": Tier.DON_VI}

# The tiers each role may hold; the jurisdiction's shape follows from the tier.
ROLE_TIERS: dict[Role, frozenset[Tier]] = {
    Role.MINISTRY_OPERATOR: frozenset({Tier.BO}),
    Role.PROVINCE_OPERATOR: frozenset({Tier.TINH}),
    Role.COMMUNE_OPERATOR: frozenset({Tier.XA}),
    Role.UNIT_REPRESENTATIVE: frozenset({Tier.DON_VI}),
    Role.AUDITOR: frozenset({Tier.BO, Tier.TINH, Tier.XA}),
    Role.AGENCY_SUBSCRIBER: frozenset({Tier.BO, Tier.TINH}),
    Role.SERVICE: frozenset({Tier.BO}),
}


class ClaimsError(ValueError):
    """The claims do not describe a valid principal (message in Vietnamese / English)."""


def parse_tier(value: str) -> Tier:
    """A tier from its value or an alias (national, province, commune, unit)."""
    if value in TIER_ALIASES:
        return TIER_ALIASES[value]
    try:
        return Tier(value)
    except ValueError:
        valid = ", ".join([t.value for t in Tier] + list(TIER_ALIASES))
        raise ClaimsError(f"cấp không hợp lệ / invalid tier {value!r} (hợp lệ / valid: {valid})") from None


def parse_role(value: str) -> Role:
    """A role from its value."""
    try:
        return Role(value)
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise ClaimsError(f"vai trò không hợp lệ / invalid role {value!r} (hợp lệ / valid: {valid})") from None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: token subject, role, tier, jurisdiction code and (for units) unit code."""

    subject: str
    role: Role
    tier: Tier
    jurisdiction: str = ""  # "" national, 2 digits a province, 5 digits a commune
    unit: str = ""  # unit code, for unit representatives
    key_id: str = ""  # kid of the key that signed the token ("" for the system principal)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def national(self) -> bool:
        """True when the jurisdiction is the whole country."""
        return self.jurisdiction == ""

    def actor(self) -> Actor:
        """The actor recorded in events caused by this principal."""
        if self.key_id == "" and self.role is Role.SERVICE and self.subject == SYSTEM.id:
            return SYSTEM
        return Actor(id=self.subject, role=self.role.value, tier=self.tier.value, jurisdiction=self.jurisdiction)


def validate(p: Principal) -> None:
    """Raise ClaimsError unless role, tier, jurisdiction and unit fit together."""
    if not isinstance(p.subject, str) or not SUBJECT.match(p.subject):
        raise ClaimsError("chủ thể (sub) không hợp lệ / invalid subject (sub)")
    if p.tier not in ROLE_TIERS[p.role]:
        allowed = ", ".join(sorted(t.value for t in ROLE_TIERS[p.role]))
        raise ClaimsError(f"vai trò {p.role.value} không thuộc cấp {p.tier.value} / role {p.role.value} "
                          f"cannot have tier {p.tier.value} (allowed: {allowed})")
    j = p.jurisdiction
    if p.tier is Tier.BO and j != "":
        raise ClaimsError("cấp bộ có địa bàn toàn quốc (rỗng) / the ministry tier has the national (empty) jurisdiction")
    if p.tier is Tier.TINH and not PROVINCE_CODE.match(j):
        raise ClaimsError(f"địa bàn cấp tỉnh phải là mã tỉnh 2 chữ số / a province jurisdiction is a 2-digit code: {j!r}")
    if p.tier is Tier.XA and not COMMUNE_CODE.match(j):
        raise ClaimsError(f"địa bàn cấp xã phải là mã xã 5 chữ số / a commune jurisdiction is a 5-digit code: {j!r}")
    if p.tier is Tier.DON_VI and j and not COMMUNE_CODE.match(j):
        raise ClaimsError(f"địa bàn của đơn vị phải là mã xã / a unit's jurisdiction is its commune code: {j!r}")
    if p.role is Role.UNIT_REPRESENTATIVE:
        if not UNIT_CODE.match(p.unit):
            raise ClaimsError("thiếu hoặc sai mã đơn vị (unit) / missing or invalid unit code (unit)")
    elif p.unit:
        raise ClaimsError("chỉ đại diện đơn vị có mã đơn vị / only unit representatives carry a unit code")


SYSTEM_PRINCIPAL = Principal(subject=SYSTEM.id, role=Role.SERVICE, tier=Tier.BO)
