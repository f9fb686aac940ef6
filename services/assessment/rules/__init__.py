"""Rule sets as versioned data (TT124, TT48, QĐ510) and the functions that select the one in force."""

from services.assessment.rules.catalogue import RuleCatalogue, load_catalogue
from services.assessment.rules.model import (
    AuthorityMap, ClassificationRules, Criterion, CriterionKind, DayOfYear, Level, RuleSet, RuleSetError, Threshold,
)
from services.assessment.rules.types import Tier, UnitType

__all__ = [
    "AuthorityMap", "ClassificationRules", "Criterion", "CriterionKind", "DayOfYear", "Level", "RuleCatalogue",
    "RuleSet", "RuleSetError", "Threshold", "Tier", "UnitType", "load_catalogue",
]
