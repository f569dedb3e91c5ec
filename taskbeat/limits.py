"""The largest values taskbeat stores, on every database.

A bigger number in a request is refused (or not found) instead of reaching the driver.
Kept apart from the models so the field description (and the API client) can read them
without SQLAlchemy.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1  # BIGINT ids
MAX_INT = 2**31 - 1  # INTEGER counters and bounds
