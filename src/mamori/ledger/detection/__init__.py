"""Security log monitoring (commitment 17): detection rules run over ledger entries.

Rules are data (`rules.py`, the shipped set in `defaults.yaml`); `engine.Detector` runs them
as a pure streaming engine with bounded memory and returns `Alert`s. Storing alerts and
notifying people is left to the caller. Imports only core and the ledger's own modules.
"""

from mamori.ledger.detection.engine import Alert, Detector, DetectorStats
from mamori.ledger.detection.rules import (
    AbsenceRule,
    EventRule,
    Rule,
    RuleKind,
    default_rules,
    load_rules,
)

__all__ = [
    "AbsenceRule",
    "Alert",
    "Detector",
    "DetectorStats",
    "EventRule",
    "Rule",
    "RuleKind",
    "default_rules",
    "load_rules",
]
