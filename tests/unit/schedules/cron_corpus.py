"""A seeded random corpus of cron expressions over the grammar the README documents, with
the odd forms people write by mistake mixed in, for comparing with cronsim."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_named: int = 0


SECOND = MINUTE = Kind(0, 59)
HOUR = Kind(0, 23)
DAY_OF_MONTH = Kind(1, 31)
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH = Kind(1, 12, MONTH_NAMES, 1)
DAY_OF_WEEK = Kind(0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat"), 0)
FIVE = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)
# What people write by mistake or carry over from other crons, each now and then.
ODD_ITEMS = ("?", "٣", "H", "R", "", "1-0", "22-2", "fri-mon", "*/0", "*/1000000000", "W",
             "15W", "L5", "monL", "sunday", "-5", "5-", "*/5/2", "1#2#3", "L/2", "*-5")  # fmt: skip


def expressions(seed: int, count: int, *, seconds: bool = False) -> list[str]:
    rng = random.Random(seed)
    kinds = (SECOND, *FIVE) if seconds else FIVE
    return [" ".join(_field(rng, kind) for kind in kinds) for _ in range(count)]


def _field(rng: random.Random, kind: Kind) -> str:
    if rng.random() < 0.35:
        return "*"
    items = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
    return ",".join(_item(rng, kind) for _ in range(items))


def _item(rng: random.Random, kind: Kind) -> str:
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(ODD_ITEMS)
    if roll < 0.30:
        return _value(rng, kind)
    if roll < 0.50:
        first = _number(rng, kind)
        last = rng.randint(first, min(kind.high, first + rng.randint(0, kind.high)))
        return f"{_name_or(rng, kind, first)}-{_name_or(rng, kind, last)}"
    if roll < 0.65:
        return f"*/{_step(rng, kind)}"
    if roll < 0.75:
        first = rng.randint(kind.low, kind.high - 1)
        last = rng.randint(first + 1, kind.high) if rng.random() < 0.97 else first
        return f"{first}-{last}/{_step(rng, kind)}"
    if roll < 0.82:
        return f"{_value(rng, kind)}/{_step(rng, kind)}"
    return _special(rng, kind) or _value(rng, kind)


def _special(rng: random.Random, kind: Kind) -> str | None:
    if kind is DAY_OF_MONTH:
        return rng.choice(["L", "LW", "l", "lw"])
    if kind is DAY_OF_WEEK:
        day = rng.randint(0, 8) if rng.random() < 0.9 else rng.choice(kind.names)
        if rng.random() < 0.5:
            return f"{day}L"
        return f"{day}#{rng.randint(0, 6)}"
    return None


def _value(rng: random.Random, kind: Kind) -> str:
    if rng.random() < 0.03:  # just outside the field
        return str(rng.choice([kind.low - 1, kind.high + 1]) if kind.low else kind.high + 1)
    return _name_or(rng, kind, _number(rng, kind))


def _number(rng: random.Random, kind: Kind) -> int:
    return rng.randint(kind.low, kind.high)


def _name_or(rng: random.Random, kind: Kind, value: int) -> str:
    index = value - kind.first_named
    if kind.names and 0 <= index < len(kind.names) and rng.random() < 0.3:
        name = kind.names[index]
        return name.upper() if rng.random() < 0.5 else name
    return str(value).zfill(2) if rng.random() < 0.05 else str(value)


def _step(rng: random.Random, kind: Kind) -> int:
    if rng.random() < 0.02:  # more than the field holds
        return rng.randint(kind.high + 2, 2 * kind.high + 2)
    return rng.randint(1, max(2, (kind.high - kind.low) // 2))
