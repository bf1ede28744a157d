"""Turn a pydantic validation error into an InputError at the right file, line and field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mamori.core.i18n import N_
from mamori.core.yamlsource import YamlDocument

Model = TypeVar("Model", bound=BaseModel)

_MESSAGES = {
    "missing": N_("this field is required"),
    "extra_forbidden": N_("unknown field"),
    "string_too_short": N_("must not be empty"),
    "too_short": N_("needs at least %(min_length)s entries"),
    "literal_error": N_("must be one of: %(expected)s"),
    "string_pattern_mismatch": N_("has an invalid format (expected %(pattern)s)"),
    "string_type": N_("must be text"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "greater_than_equal": N_("must be at least %(ge)s"),
    "less_than_equal": N_("must be at most %(le)s"),
    "date_from_datetime_parsing": N_("must be a date like 2024-04-01"),
    "date_parsing": N_("must be a date like 2024-04-01"),
    "date_type": N_("must be a date like 2024-04-01"),
    "list_type": N_("must be a list"),
    "dict_type": N_("must be a mapping"),
    "model_type": N_("must be a mapping"),
}
_FALLBACK = N_("invalid value: %(problem)s")


def _message(error: Any) -> tuple[str, dict[str, Any]]:
    context = dict(error.get("ctx") or {})
    if error["type"] == "value_error" and "error" in context:
        return str(context["error"]), {}
    template = _MESSAGES.get(error["type"])
    if template is None:
        return _FALLBACK, {"problem": error["msg"]}
    return template, {key: str(value) for key, value in context.items()}


def validate_document(model: type[Model], document: YamlDocument) -> Model:
    """Validate a YAML document; the first problem becomes an InputError."""
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = tuple(first["loc"])
        message, params = _message(first)
        raise document.error(message, path, **params) from exc
