"""taskbeat's core: what every process shares (settings, database, models, schedules, store)."""

from __future__ import annotations

__version__ = "0.1.0"
