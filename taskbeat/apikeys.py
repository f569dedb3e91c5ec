"""API keys: generated once, shown once, stored as a SHA-256 hash with a role."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from taskbeat.errors import NotFound
from taskbeat.models import ApiKey
from taskbeat.status import ApiRole

KEY_PREFIX = "tbk_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(plaintext: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(
    session: Session, *, name: str, role: ApiRole, now: datetime, plaintext: str | None = None
) -> tuple[ApiKey, str]:
    """Store a key; returns the row and the plaintext, which is never stored."""
    plaintext = plaintext or generate_key()
    key = ApiKey(
        name=name,
        prefix=plaintext[:12],
        key_hash=hash_key(plaintext),
        role=role,
        created_at=now,
    )
    session.add(key)
    session.flush()
    return key, plaintext


def ensure_key(
    session: Session, plaintext: str, *, name: str, role: ApiRole, now: datetime
) -> ApiKey:
    """The key with this plaintext, created if missing (TASKBEAT_ADMIN_KEY at start-up)."""
    existing = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext))).first()
    if existing is not None:
        return existing
    key, _ = create_key(session, name=name, role=role, now=now, plaintext=plaintext)
    return key


def authenticate(session: Session, plaintext: str) -> ApiKey | None:
    """The live key with this plaintext, or None."""
    query = select(ApiKey).where(
        ApiKey.key_hash == hash_key(plaintext), ApiKey.revoked_at.is_(None)
    )
    return session.scalars(query).first()


def live_key(session: Session, key_id: int) -> ApiKey | None:
    """Key `key_id` if it has not been revoked (a dashboard session holds the key's id)."""
    key = session.get(ApiKey, key_id)
    return key if key is not None and key.revoked_at is None else None


def list_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_key(session: Session, key_id: int, now: datetime) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    key.revoked_at = key.revoked_at or now
    return key
