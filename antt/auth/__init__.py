"""Access control: signed bearer tokens (who, role, tier, jurisdiction) and declarative authorisation."""
