"""Shared foundations that import no domain: settings, database, errors, i18n, clock."""
