"""The plant engineer's two CSV exports (issue #20): mixed date formats, a missing hour, a spike,
an empty reading, and a second day that adds a ``pressure`` column."""

from __future__ import annotations

import math

SPIKE_HOUR, GAP_HOUR, BLANK_HOUR = 20, 30, 10
#: Source lines (the header is line 1): the spike's and the empty reading's.
SPIKE_LINE, BLANK_LINE = SPIKE_HOUR + 2, BLANK_HOUR + 2


def _stamp(hour: int, day: int) -> str:
    """ISO for even hours, the plant's own ``dd.mm.yyyy HH:MM`` for odd ones (both in one column)."""
    h = hour % 24
    d = day + hour // 24
    return f"2024-03-{d:02d}T{h:02d}:00:00Z" if hour % 2 == 0 else f"{d:02d}.03.2024 {h:02d}:00"


def _temp(hour: int) -> str:
    """A slow daily swing with a little noise: Hampel's default window (7) takes the flat tops for
    outliers; a window of 25 rows keeps them and still finds the spike."""
    value = 21 + 1.5 * math.sin(hour / 4) + 0.3 * (((hour * 37) % 11) / 10)
    return f"{value:.2f}"


def day1() -> bytes:
    """48 hourly readings of ``line4``: one hour missing, one reading empty, one spike of 95 °C."""
    rows = ["timestamp,machine,temperature"]
    for hour in range(48):
        if hour == GAP_HOUR:
            continue
        temp = "95.0" if hour == SPIKE_HOUR else "" if hour == BLANK_HOUR else _temp(hour)
        rows.append(f"{_stamp(hour, 1)},line4,{temp}")
    return ("\n".join(rows) + "\n").encode()


def day2(day: int = 3) -> bytes:
    """The next day's export: a new ``pressure`` column."""
    rows = ["timestamp,machine,temperature,pressure"]
    for hour in range(24):
        rows.append(f"{_stamp(hour, day)},line4,{_temp(hour)},{1012 + hour % 3}.5")
    return ("\n".join(rows) + "\n").encode()
