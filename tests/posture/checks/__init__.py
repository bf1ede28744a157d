"""Tests of the posture checks."""
