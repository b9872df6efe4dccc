"""Percentiles and medians of repeated measurements."""

import statistics


def percentile(values, q):
    """The q-th percentile (0-100) of ``values``, linear interpolation."""
    values = sorted(values)
    if not values:
        return None
    pos = (len(values) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
