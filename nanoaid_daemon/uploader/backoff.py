"""Capped exponential backoff with jitter, for a repository that is down or refusing.

The delay doubles from ``initial_s`` up to ``max_s`` with each consecutive failure and resets on
the first success. Jitter (a random share of up to ``jitter`` of the delay, taken off) keeps many
uploaders that lost the same repository from knocking again in lockstep.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random, repr=False)
    failures: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s) or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("backoff needs 0 < initial_s <= max_s, factor >= 1 and 0 <= jitter < 1")

    def failure(self) -> float:
        """Record one more failure; the seconds to wait before the next try."""
        self.failures += 1
        raw = min(self.max_s, self.initial_s * self.factor ** min(self.failures - 1, 64))
        return raw * (1.0 - self.jitter * self.rng.random())

    def success(self) -> None:
        self.failures = 0
