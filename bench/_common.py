"""Helpers shared by the benchmarks: arguments, figure lines, a scratch directory, timing."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def make_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark shares: --full and --repeat."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--full", action="store_true", help="use the full sizes from the issue instead of defaults"
    )
    parser.add_argument(
        "--repeat",
        type=positive_int,
        default=3,
        help="timed repetitions; the median is reported (default: 3)",
    )
    return parser


def emit(name: str, value: float, unit: str = "", *, digits: int = 3) -> None:
    """Print one figure as `<name>: <value> <unit>` (counts and ratios have no unit)."""
    text = str(value) if isinstance(value, int) else f"{value:.{digits}f}"
    # Flushed so a slow later figure never hides the ones already measured.
    print(f"{name}: {text} {unit}".rstrip(), flush=True)


def emit_ratio(name: str, value: float, baseline: float) -> None:
    """Print `<name>_ratio: value / baseline`, both measured in this run."""
    emit(f"{name}_ratio", value / baseline if baseline > 0 else float("nan"), digits=2)


def note(message: str) -> None:
    """A remark for people, on stderr so figure parsers never see it."""
    print(f"# {message}", file=sys.stderr, flush=True)


def timed(function: Callable[[], T]) -> tuple[float, T]:
    """Wall seconds of one call of `function`, and what it returned."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def median_wall(function: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Median wall seconds over `repeat` calls, and the last call's result."""
    # The first call is outside the loop so `result` always has a value (repeat >= 1).
    wall, result = timed(function)
    walls = [wall]
    for _ in range(repeat - 1):
        wall, result = timed(function)
        walls.append(wall)
    return statistics.median(walls), result


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary directory for databases and outputs, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)
