"""Posture fixtures: the portal fixtures, shared from the web tests."""

from tests.web.conftest import people, portal  # noqa: F401  (the portal fixtures, shared)
