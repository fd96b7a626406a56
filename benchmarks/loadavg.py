"""The load-average line every benchmark prints last: figures from a busy machine are labelled, not hidden."""

from __future__ import annotations

import os
from collections.abc import Sequence

QUIET_BELOW = 2.5  # 1-minute load average; the project's machine has 2 cores


def load_summary(start: Sequence[float], end: Sequence[float], cores: int | None = None) -> str:
    """``load average start/end 0.6/1.0 on 2 cores (quiet)`` from two ``os.getloadavg()`` readings."""
    la = start[0], end[0]
    label = "contended" if max(la) >= QUIET_BELOW else "quiet"
    return f"load average start/end {la[0]:.1f}/{la[1]:.1f} on {cores or os.cpu_count()} cores ({label})"
