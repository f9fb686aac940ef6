"""One tier vocabulary (antt.auth.principal.Tier: bo, tinh, xa, don_vi); older English spellings still read."""

from __future__ import annotations

import pytest

from antt.actor import SYSTEM
from antt.auth.principal import SYSTEM_PRINCIPAL, Tier, parse_tier
from services.notifications.domain.calendar import Tier as NotificationTier
from services.notifications.domain.schedule import Party

pytestmark = pytest.mark.unit


def test_the_system_actor_uses_the_token_vocabulary() -> None:
    assert SYSTEM.tier == Tier.BO.value
    assert SYSTEM_PRINCIPAL.actor() == SYSTEM
    assert parse_tier("national") is Tier.BO  # what events recorded before the change carry


@pytest.mark.parametrize(("old", "new"), [("unit", "don_vi"), ("commune", "xa"), ("province", "tinh"),
                                          ("ministry", "bo"), ("national", "bo")])
def test_notifications_tiers_are_the_token_tiers_and_accept_the_english_spellings(old: str, new: str) -> None:
    assert NotificationTier(old) is NotificationTier(new)
    assert NotificationTier(new).value == parse_tier(new).value == parse_tier(old).value


def test_notifications_tiers_cover_the_token_tiers_in_rank_order() -> None:
    assert [t.value for t in NotificationTier] == [Tier.DON_VI.value, Tier.XA.value, Tier.TINH.value, Tier.BO.value]
    with pytest.raises(ValueError):
        NotificationTier("district")


def test_reminder_keys_keep_their_first_spelling() -> None:
    # ledger rows and Message-IDs already written must still match the same reminder
    assert str(Party(NotificationTier.UNIT, "u-1")) == "unit:u-1"
    assert str(Party(NotificationTier("tinh"), "31")) == "province:31"
