"""Reading IAM policy documents: statements, principals' accounts, conditions."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_ACCOUNT = re.compile(r"^(\d{12})$|^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")


def document(value: Any) -> dict[str, Any] | None:
    """A policy document given as a dict or as (URL-decoded) JSON text."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip():
        parsed = json.loads(value)
        return parsed if isinstance(parsed, dict) else None
    return None


def statements(policy: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of a policy (a single statement object counts as a list of one)."""
    found = (policy or {}).get("Statement") or []
    if isinstance(found, Mapping):
        found = [found]
    return [dict(s) for s in found if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def principal_accounts(policy: Mapping[str, Any] | None, own_account: str) -> list[str]:
    """Accounts other than `own_account` that Allow statements name as AWS principals."""
    accounts: set[str] = set()
    for statement in statements(policy):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, Mapping) else None
        for entry in _as_list(aws) if aws is not None else []:
            match = _ACCOUNT.match(str(entry))
            if match:
                accounts.add(match.group(1) or match.group(2))
    accounts.discard(own_account)
    return sorted(accounts)


def denies_insecure_transport(policy: Mapping[str, Any] | None) -> bool:
    """True when a Deny statement applies when aws:SecureTransport is false."""
    for statement in statements(policy):
        if statement.get("Effect") != "Deny":
            continue
        condition = statement.get("Condition") or {}
        for operator, clauses in condition.items():
            if str(operator).lower() != "bool" or not isinstance(clauses, Mapping):
                continue
            for key, value in clauses.items():
                if str(key).lower() != "aws:securetransport":
                    continue
                if any(str(v).lower() == "false" for v in _as_list(value)):
                    return True
    return False
