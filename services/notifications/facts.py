"""Who gets a notice and how: the recipient's channel and address, the text, and the facts to publish."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.notifications.channels import Channel, OutgoingMessage
from services.notifications.domain.calendar import COMMUNE_UNIT_TYPE, Tier
from services.notifications.domain.schedule import EscalationDigest, Obligation, Party, Reminder
from services.notifications.projections import UnitRow
from services.notifications.templates import digest_text, reminder_text


@dataclass
class Snapshot:
    """Open units, the obligations that may matter now, and the keys already satisfied."""

    units: dict[str, UnitRow]
    obligations: list[Obligation]
    satisfied: set[str]

    def commune_unit(self, commune_code: str) -> UnitRow | None:
        """The commune itself as a unit (xã, phường, đặc khu), whose contacts reach the commune authority."""
        found = [u for u in self.units.values() if u.commune_code == commune_code and u.unit_type == COMMUNE_UNIT_TYPE]
        return min(found, key=lambda u: u.code) if found else None

    def contact(self, party: Party) -> UnitRow | None:
        """The replica row whose contacts reach a party (a unit, or a commune through its commune unit)."""
        if party.tier is Tier.UNIT:
            return self.units.get(party.code)
        if party.tier is Tier.COMMUNE:
            return self.commune_unit(party.code)
        return None  # provinces and the Ministry read the published events


def route(row: UnitRow | None, channels: Mapping[str, Channel]) -> tuple[str, str]:
    """(channel, address): the webhook if the party has one, else its email, else events on NATS only."""
    if row is not None and row.contact_webhook and "webhook" in channels:
        return "webhook", row.contact_webhook
    if row is not None and row.contact_email and "email" in channels:
        return "email", row.contact_email
    return "nats", ""


def obligation_facts(o: Obligation) -> dict[str, Any]:
    """The obligation as published (ObligationRef)."""
    return {"obligation_key": o.key, "year": o.year, "rule_id": o.rule_id, "kind": o.kind.value,
            "title_vi": o.title_vi, "title_en": o.title_en, "due_date": o.due.due.isoformat(),
            "nominal_due_date": o.due.nominal.isoformat(), "flagged": o.due.flagged,
            "unit_id": o.subject if ":" not in o.subject else ""}


def _area(snap: Snapshot, o: Obligation) -> tuple[str, str]:
    row = snap.units.get(o.subject)
    return (row.province_code, row.commune_code) if row else ("", "")


def reminder_message(r: Reminder, snap: Snapshot, channels: Mapping[str, Channel]) -> tuple[str, OutgoingMessage]:
    """The channel and message of one reminder or overdue notice."""
    channel, address = route(snap.contact(r.recipient), channels)
    unit = snap.units.get(r.obligation.subject)
    text = reminder_text(r, unit.name if unit else "")
    province, commune = _area(snap, r.obligation)
    facts = {"notice": r.kind.value, "offset": r.offset, "recipient": str(r.recipient), "unit_id": unit.unit_id
             if unit else "", "province_code": province, "commune_code": commune,
             "obligation": obligation_facts(r.obligation)}
    return channel, OutgoingMessage(r.key, address, text.subject, text.body, facts)


def digest_message(d: EscalationDigest, snap: Snapshot, channels: Mapping[str, Channel]) -> tuple[str, OutgoingMessage]:
    """The channel and message of one supervisor's digest."""
    channel, address = route(snap.contact(d.supervisor), channels)
    names = {uid: f"{u.name} ({u.code})" for uid, u in snap.units.items()}
    text = digest_text(d, names)
    province = d.supervisor.code if d.supervisor.tier is Tier.PROVINCE else ""
    commune = d.supervisor.code if d.supervisor.tier is Tier.COMMUNE else ""
    if commune:
        province = next((_area(snap, o)[0] for o in d.items if _area(snap, o)[1] == commune), "")
    facts = {"notice": "digest", "recipient": str(d.supervisor), "supervisor": str(d.supervisor),
             "as_of": d.as_of.isoformat(), "province_code": province, "commune_code": commune,
             "items": [obligation_facts(o) for o in d.items]}
    return channel, OutgoingMessage(d.key, address, text.subject, text.body, facts)
