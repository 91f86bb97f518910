"""histogram_quantile as Prometheus computes it, for sources that read histograms themselves."""

from __future__ import annotations

import math
from collections.abc import Mapping


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile from cumulative bucket counts keyed by upper bound (+Inf included); None without data.

    Linear interpolation inside the bucket holding the rank; a rank in the +Inf
    bucket answers the highest finite bound, as Prometheus does.
    """
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]) or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower if len(bounds) > 1 else None
            in_bucket = count - below
            return bound if in_bucket <= 0 else lower + (bound - lower) * (rank - below) / in_bucket
        lower, below = bound, count
    return None
