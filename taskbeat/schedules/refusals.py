"""Why a cron expression is refused: one reason per kind of mistake, each with its advice.

The README lists these reasons; the corpus test checks that every refusal carries one, so
a new kind of refusal must be named here (and documented) before the parser may raise it.
"""

from __future__ import annotations

from enum import StrEnum

from taskbeat.errors import InvalidSchedule


class Refusal(StrEnum):
    FIELD_COUNT = "field-count"
    """Not 5 fields, nor 6 with seconds first."""
    RANDOMIZED = "randomized"
    """`R` or `H`: a value each process would pick differently."""
    NOT_A_VALUE = "not-a-value"
    """Neither a number nor a name this field knows (`?`, `monday`, an empty list item)."""
    NON_ASCII = "non-ascii"
    """Letters or digits outside ASCII (`٣`, a long-s `sun`): Python reads some as ASCII."""
    OUT_OF_RANGE = "out-of-range"
    """A number outside the field's range, such as minute 60 or day-of-week 8."""
    DESCENDING_RANGE = "descending-range"
    """`22-2`, `fri-mon`, `1-0`: cron ranges never wrap around."""
    BAD_STEP = "bad-step"
    """A step of 0, or larger than the field (`*/1000000000`): steps never carry over."""
    MISPLACED_SPECIAL = "misplaced-special"
    """`L`, `LW`, `#` where the field does not take them, or in a form it does not take."""
    NTH_OUT_OF_RANGE = "nth-out-of-range"
    """`D#k` with k outside 1-5: no month has a sixth Monday."""
    NEVER_FIRES = "never-fires"
    """Every field is valid but no date matches them all (`0 0 30 2 *`)."""


class CronRefused(InvalidSchedule):
    """A cron expression refused for `reason` (HTTP 422, on the schedule field)."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def field_refused(field: str, text: str, reason: Refusal, why: str) -> CronRefused:
    """A refusal that names the cron field at fault, as every field-level error does."""
    return CronRefused(reason, f"cron field {field} {text!r}: {why}")
