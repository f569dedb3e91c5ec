"""Alembic migrations; `taskbeat db upgrade` runs them."""
