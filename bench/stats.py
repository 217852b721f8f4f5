"""Median and spread of repeated measurements: the one summary every figure uses.

Benchmarks on a shared 2-core machine are noisy, so a single run says little. Every
figure is repeated and reported as its median with the min-max range and the relative
spread, which is what a reader needs to judge whether two figures really differ.
"""

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Summary:
    """Repeated samples of one figure."""

    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> "Summary":
        if not samples:
            raise ValueError("a summary needs at least one sample")
        return cls(tuple(float(s) for s in samples))

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def spread(self) -> float:
        """(max - min) / median: 0.05 means the runs agreed within 5%."""
        return (self.high - self.low) / self.median if self.median else 0.0

    def format(self, unit: str = "", digits: int = 1) -> str:
        """'12.3 ms (11.9-13.0, spread 9%, n=5)': median, range, relative spread, runs."""
        unit = f" {unit}" if unit else ""
        return (
            f"{self.median:.{digits}f}{unit} ({self.low:.{digits}f}-{self.high:.{digits}f}, "
            f"spread {self.spread:.0%}, n={len(self.samples)})"
        )


def repeat(measure: Callable[[], float], runs: int) -> Summary:
    """Call measure() `runs` times and summarise what it returns."""
    return Summary.of([measure() for _ in range(runs)])


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (fraction 0.95 for p95) of unsorted values."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def ratio(numerator: Summary, denominator: Summary) -> Summary:
    """Run-by-run ratio of two figures measured the same number of times, interleaved."""
    pairs = zip(numerator.samples, denominator.samples, strict=True)
    return Summary.of([a / b for a, b in pairs])
