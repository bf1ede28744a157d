"""Running tests once per SIMD level of the native ledger module.

A test module imports `simd_level` (an autouse, module-scoped fixture) to run each of its
tests with every level this CPU has: "scalar", "avx2" and "avx512".
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

native = importlib.import_module("mamori.ledger._native")
# The level chosen at import, before any test switches it.
DEFAULT_SIMD: str = native.simd()
ALL_LEVELS = ("scalar", "avx2", "avx512")


def _levels_of_the_module() -> list[str]:
    """The levels the module runs here: those that `use_simd` does not turn into another."""
    levels = []
    try:
        for level in ALL_LEVELS:
            native.use_simd(level)
            if native.simd() == level:
                levels.append(level)
    finally:
        native.use_simd(DEFAULT_SIMD)
    return levels


LEVELS = _levels_of_the_module()


@pytest.fixture(scope="module", params=LEVELS, autouse=True)
def simd_level(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run every test of the importing module with each level, then restore the level."""
    before = native.simd()
    native.use_simd(request.param)
    try:
        yield str(native.simd())
    finally:
        native.use_simd(before)
