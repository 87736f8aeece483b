"""Backoff for retriable failures."""

from __future__ import annotations

import attrs


@attrs.frozen
class RetryPolicy:
    """Exponential backoff: `initial`, then times `factor` per attempt, capped at `max_delay` seconds.

    With `max_attempts` None an item is retried for as long as it fails
    retriably (at most every `max_delay`), which suits a healing agent;
    otherwise it turns FAILED after that many consecutive failures.
    """

    initial: float = 0.5
    factor: float = 2.0
    max_delay: float = 60.0
    max_attempts: int | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
        return float(min(self.initial * self.factor ** min(max(0, attempt - 1), 64), self.max_delay))

    def gives_up(self, attempts: int) -> bool:
        return self.max_attempts is not None and attempts >= self.max_attempts
