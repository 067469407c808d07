"""When the event log commits its next batch: adaptive group commit.

With an interval (`CHINWAG_EVENT_LOG_COMMIT_INTERVAL_MS`), an event waits at most that long for
the batch that carries it, and every answer's events that queued meanwhile share that one
commit. Two kinds of item do not wait, so what a user waits for is not delayed: an answer's
first `message.delta` (time to first token) and an answer's end (its last words and its
`stream.completed`). Whatever is queued goes with them. So at most one commit per interval
carries only waiting events, and an answer that streams alone costs about
2 + (its streaming time / the interval) commits instead of one per token.

Without an interval (0) every batch is due at once: the log commits as soon as the previous
commit is done.
"""

from __future__ import annotations

import time


class CommitPacing:
    """Tracks what the event log holds: since when its oldest waiting item, and whether an item
    that must not wait is queued."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._since: float | None = None  # when the oldest queued item was queued
        self._urgent = False

    def queued(self, *, urgent: bool) -> bool:
        """An item was queued; True if the writer must wake up to look at it (the first item of
        a batch, an urgent one, or any item without an interval)."""
        if urgent or not self.interval:
            self._urgent = True
            return True
        if self._since is None:
            self._since = time.monotonic()
            return True
        return False

    def due_in(self) -> float:
        """Seconds until the queued items are due; 0 or less when they are due now."""
        if self._urgent or self._since is None:
            return 0.0
        return self._since + self.interval - time.monotonic()

    def taken(self) -> None:
        """The writer took everything queued into a batch."""
        self._since, self._urgent = None, False

    def put_back(self) -> None:
        """A batch that failed is queued again: due as soon as the retry delay has passed."""
        self._urgent = True
