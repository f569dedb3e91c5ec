"""API keys: generated once and shown once; stored as a salted, slow hash with a role.

A key reads `tbk_<lookup id>.<secret>`. The lookup id (12 hex digits, not secret) finds
the row; the whole key is checked against the row's PBKDF2-SHA256 hash, salted per key.
A key chosen by an operator (TASKBEAT_ADMIN_KEY), or one made before this format, has no
lookup id in it: its id is derived from the key with the same slow hash, under a fixed
salt. Rows from before hashing was salted (`sha256$...`) are rehashed the first time
their key is used.

Checking a key is deliberately slow (tens of milliseconds), so the API keeps the keys it
verified for a short while (`api/auth.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from taskbeat.errors import NotFound
from taskbeat.models import ApiKey
from taskbeat.status import ApiRole

KEY_PREFIX = "tbk_"
ITERATIONS = 100_000
# Fixed for good: a derived lookup id computed with another count would not be found.
LOOKUP_ITERATIONS = 100_000
_FORMAT = re.compile(r"tbk_([0-9a-f]{12})\.[A-Za-z0-9_-]{20,}")
_DERIVED_SALT = b"taskbeat api key lookup"


@dataclass(frozen=True)
class KeyIdentity:
    """Who a verified key is: what the API needs on each request (no row attached)."""

    id: int
    role: ApiRole
    name: str


def generate_key() -> str:
    return f"{KEY_PREFIX}{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"


def lookup_id(plaintext: str) -> str:
    """The row's non-secret id: the one the key carries, or one derived from it."""
    found = _FORMAT.fullmatch(plaintext)
    if found:
        return found.group(1)
    digest = hashlib.pbkdf2_hmac("sha256", plaintext.encode(), _DERIVED_SALT, LOOKUP_ITERATIONS)
    return "d" + digest.hex()[:15]


def hash_key(plaintext: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", plaintext.encode(), salt, ITERATIONS)
    return f"pbkdf2_sha256${ITERATIONS}${_b64(salt)}${_b64(digest)}"


def key_matches(plaintext: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    if scheme == "sha256":  # a row from before salting
        expected = hashlib.sha256(plaintext.encode()).hexdigest()
        return hmac.compare_digest(rest, expected)
    iterations, salt, digest = rest.split("$")
    actual = hashlib.pbkdf2_hmac(
        "sha256", plaintext.encode(), base64.urlsafe_b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(_b64(actual), digest)


def create_key(
    session: Session, *, name: str, role: ApiRole, now: datetime, plaintext: str | None = None
) -> tuple[ApiKey, str]:
    """Store a key; returns the row and the plaintext, which is never stored."""
    plaintext = plaintext or generate_key()
    key = ApiKey(
        name=name,
        lookup_id=lookup_id(plaintext),
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
    existing = _find(session, plaintext)
    if existing is not None:
        return existing
    key, _ = create_key(session, name=name, role=role, now=now, plaintext=plaintext)
    return key


def authenticate(session: Session, plaintext: str, now: datetime) -> KeyIdentity | None:
    """The live key with this plaintext, or None; notes when it was used."""
    key = _find(session, plaintext)
    if key is None or key.revoked_at is not None:
        return None
    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return KeyIdentity(key.id, key.role, key.name)


def _find(session: Session, plaintext: str) -> ApiKey | None:
    ident = lookup_id(plaintext)
    key = session.scalars(select(ApiKey).where(ApiKey.lookup_id == ident)).first()
    if key is None:
        return _upgrade_legacy(session, plaintext, ident)
    return key if key_matches(plaintext, key.key_hash) else None


def _upgrade_legacy(session: Session, plaintext: str, ident: str) -> ApiKey | None:
    legacy = "sha256$" + hashlib.sha256(plaintext.encode()).hexdigest()
    key = session.scalars(select(ApiKey).where(ApiKey.key_hash == legacy)).first()
    if key is not None:
        key.lookup_id = ident
        key.key_hash = hash_key(plaintext)
    return key


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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()
