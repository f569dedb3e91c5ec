"""One cron field's text to the values it selects, as Debian (Vixie) cron reads it.

A field is a comma-separated list of items (any case):

    *          every value of the field
    N          one value; month and day-of-week also take names (`jan`, `sun`)
    N-M        N to M; N <= M, since cron ranges never wrap around
    */S N-M/S  every S-th value of the field, or of N-M, counting from its first
    N/S        N to the field's last value, every S-th (cronsim's reading; Debian
               cron refuses the form, so there is no other reading to honour)
    L  LW      day-of-month only: the month's last day; its last weekday (Mon-Fri)
    DL  D#k    day-of-week only: the month's last D (D a number 0-7); its k-th D (k 1-5)

Anything else is refused with a reason (see `refusals`), never guessed at. The corpus
test holds this reading to cronsim's, which follows Debian cron.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from taskbeat.schedules.refusals import CronRefused, Refusal, field_refused


@dataclass(frozen=True)
class FieldKind:
    name: str
    low: int
    high: int
    # How many distinct values the field has: the largest step that still means something.
    size: int
    names: tuple[str, ...] = ()
    first_named: int = 0


SECOND = FieldKind("second", 0, 59, 60)
MINUTE = FieldKind("minute", 0, 59, 60)
HOUR = FieldKind("hour", 0, 23, 24)
DAY_OF_MONTH = FieldKind("day-of-month", 1, 31, 31)
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MONTH = FieldKind("month", 1, 12, 12, MONTH_NAMES, 1)
# 0 and 7 are both Sunday, as in Debian cron; a week still has only 7 days to step over.
DAY_OF_WEEK = FieldKind("day-of-week", 0, 7, 7, WEEKDAY_NAMES, 0)


class Selection(NamedTuple):
    """What one field selects. Only the day fields use more than `values`."""

    values: frozenset[int] = frozenset()
    last_day: bool = False  # L
    last_weekday: bool = False  # LW
    nth_weekdays: frozenset[tuple[int, int]] = frozenset()  # D#k
    last_weekdays: frozenset[int] = frozenset()  # DL

    def __or__(self, other: object) -> Selection:
        if not isinstance(other, Selection):
            return NotImplemented
        return Selection(
            self.values | other.values,
            self.last_day or other.last_day,
            self.last_weekday or other.last_weekday,
            self.nth_weekdays | other.nth_weekdays,
            self.last_weekdays | other.last_weekdays,
        )


def parse_field(kind: FieldKind, text: str) -> Selection:
    """The values `text` selects in a field of `kind`, or CronRefused naming the field."""
    if not text.isascii():
        # str.upper() and int() read some non-ASCII letters and digits as ASCII ones
        # (a long s in 'sun', Arabic-Indic '٣' as 3); cron reads bytes: we take none of them.
        raise field_refused(kind.name, text, Refusal.NON_ASCII, "write it in ASCII (0-9, a-z)")
    selection = Selection()
    for item in text.upper().split(","):
        selection |= _Item(kind, text, item).parse()
    return selection


@dataclass(slots=True)
class _Item:
    kind: FieldKind
    field_text: str  # the whole field, as written, for the error message
    item: str

    def refuse(self, reason: Refusal, why: str) -> CronRefused:
        return field_refused(self.kind.name, self.field_text, reason, why)

    def parse(self) -> Selection:
        item = self.item
        if item == "*":
            return Selection(frozenset(range(self.kind.low, self.kind.high + 1)))
        if self.kind is DAY_OF_WEEK and ("L" in item or "#" in item):
            return self._weekday_of_month()
        if "/" in item:
            return self._stepped(*item.split("/", 1))
        if self.kind is DAY_OF_MONTH and item in ("L", "LW"):
            return Selection(last_day=item == "L", last_weekday=item == "LW")
        return Selection(frozenset(self._range(item)))

    def _weekday_of_month(self) -> Selection:
        """`DL` (the month's last D) or `D#k` (its k-th D)."""
        item = self.item
        if "#" in item and "L" not in item:
            day, _, nth = item.partition("#")
            k = self._number(nth, "the count after #", 1, 5, Refusal.NTH_OUT_OF_RANGE)
            return Selection(nth_weekdays=frozenset({(self._value(day) % 7, k)}))
        if item.endswith("L") and item[:-1].isdigit():
            return Selection(last_weekdays=frozenset({self._value(item[:-1]) % 7}))
        raise self.refuse(
            Refusal.MISPLACED_SPECIAL,
            "day-of-week takes L only after a day number (5L: the last Friday) and # only "
            "between a day and a count (mon#2), each alone in its list item",
        )

    def _stepped(self, base: str, step_text: str) -> Selection:
        step = self._number(step_text, "a step", 1, self.kind.size, Refusal.BAD_STEP)
        if self.kind is DAY_OF_MONTH and base in ("L", "LW"):
            raise self.refuse(Refusal.MISPLACED_SPECIAL, f"a step cannot follow {base}")
        if base == "*":
            return Selection(frozenset(range(self.kind.low, self.kind.high + 1, step)))
        values = self._range(base)
        if "-" not in base:  # N/S: from N to the field's last value
            values = range(values.start, self.kind.high + 1)
        # N-N/S is N, as Debian cron reads it (some crons read N-<last>/S).
        return Selection(frozenset(values[::step]))

    def _range(self, text: str) -> range:
        if "-" not in text:
            value = self._value(text)
            return range(value, value + 1)
        first_text, last_text = text.split("-", 1)
        first, last = self._value(first_text), self._value(last_text)
        if last < first:
            raise self.refuse(
                Refusal.DESCENDING_RANGE,
                f"range {text!r} goes down; cron ranges do not wrap around (write "
                f"{first_text}-{self._end(first_text)},{self._start(last_text)}-{last_text})",
            )
        return range(first, last + 1)

    def _end(self, like: str) -> str:
        """The field's last value, written as a name if `like` is one (Saturday, not 7)."""
        if like in self.kind.names:
            return self.kind.names[-1]
        return str(self.kind.low + self.kind.size - 1)

    def _start(self, like: str) -> str:
        return self.kind.names[0] if like in self.kind.names else str(self.kind.low)

    def _value(self, token: str) -> int:
        """A number or name in the field's range."""
        if token in self.kind.names:
            return self.kind.names.index(token) + self.kind.first_named
        return self._number(token, "a value", self.kind.low, self.kind.high, Refusal.OUT_OF_RANGE)

    def _not_a_value(self, token: str, what: str) -> str:
        if token == "?":
            return "'?' is Quartz syntax, not cron's; write *"
        if what != "a value":
            return f"{token!r} is not a number, as {what} must be"
        names = self.kind.names
        named = f" or a name ({names[0].lower()}-{names[-1].lower()})" if names else ""
        return f"{token!r} is not a number from {self.kind.low} to {self.kind.high}{named}"

    def _number(self, token: str, what: str, low: int, high: int, reason: Refusal) -> int:
        if not (token.isascii() and token.isdigit()):
            raise self.refuse(Refusal.NOT_A_VALUE, self._not_a_value(token, what))
        value = int(token)
        if not low <= value <= high:
            raise self.refuse(reason, f"{what} must be from {low} to {high}, not {value}")
        return value
