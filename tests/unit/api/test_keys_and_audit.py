"""API keys stored salted with a non-secret lookup id, failed attempts throttled, and the
audit trail of changes and refusals."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from taskbeat import apikeys
from taskbeat.models import ApiKey, AuditEntry
from taskbeat.status import ApiRole
from tests.unit.api.conftest import ApiClient, assert_problem, new_task


def stored(sessions) -> list[ApiKey]:
    with sessions() as session:
        return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def test_a_key_row_keeps_only_a_lookup_id_and_a_salted_hash(api, admin_key, sessions):
    [row] = stored(sessions)
    secret = admin_key.split(".", 1)[1]
    assert admin_key.startswith(f"tbk_{row.lookup_id}.")
    assert row.key_hash.startswith("pbkdf2_sha256$")
    for value in (row.lookup_id, row.key_hash, row.name):
        assert secret[:6] not in value
    assert not hasattr(row, "prefix")


def test_the_same_key_hashes_differently_each_time():
    assert apikeys.hash_key("tbk_x") != apikeys.hash_key("tbk_x")
    assert apikeys.key_matches("tbk_x", apikeys.hash_key("tbk_x"))
    assert not apikeys.key_matches("tbk_y", apikeys.hash_key("tbk_x"))


def test_an_operator_chosen_key_is_found_by_a_derived_id(client, sessions, clock):
    with sessions.begin() as session:
        apikeys.ensure_key(
            session, "chosen-by-an-operator", name="env", role=ApiRole.ADMIN, now=clock()
        )
    assert ApiClient(client, "chosen-by-an-operator").get("/tasks").status_code == 200
    assert stored(sessions)[0].lookup_id.startswith("d")


def test_a_key_from_before_salting_works_once_and_is_rehashed(client, sessions, clock):
    plaintext = "tbk_an-old-key-made-by-revision-0002"
    legacy = "sha256$" + hashlib.sha256(plaintext.encode()).hexdigest()
    with sessions.begin() as session:
        session.add(
            ApiKey(name="old", lookup_id="legacy-1", key_hash=legacy, role=ApiRole.VIEWER,
                   created_at=clock())
        )  # fmt: skip
    assert ApiClient(client, plaintext).get("/tasks").status_code == 200
    [row] = stored(sessions)
    assert row.key_hash.startswith("pbkdf2_sha256$") and row.lookup_id.startswith("d")
    assert row.last_used_at == clock()
    assert ApiClient(client, plaintext).get("/tasks").status_code == 200


def test_failed_attempts_are_throttled_per_client_with_retry_after(
    client, admin_key, clock, settings
):
    wrong = ApiClient(client, "tbk_wrong")
    for _ in range(settings.auth_failures_per_minute):
        assert_problem(wrong.get("/tasks"), 401)
    throttled = assert_problem(ApiClient(client, admin_key).get("/tasks"), 429)
    assert "authenticate" in throttled["detail"]
    assert int(wrong.get("/tasks").headers["Retry-After"]) == 60
    clock.advance(61)
    assert ApiClient(client, admin_key).get("/tasks").status_code == 200


def test_a_revoked_key_works_no_longer_than_the_cache_keeps_it(client, sessions, clock):
    with sessions.begin() as session:
        key, plaintext = apikeys.create_key(session, name="k", role=ApiRole.ADMIN, now=clock())
    api = ApiClient(client, plaintext)
    assert api.get("/tasks").status_code == 200
    with sessions.begin() as session:
        apikeys.revoke_key(session, key.id, clock())
    assert api.get("/tasks").status_code == 200  # verified 0 s ago
    clock.advance(31)
    assert_problem(api.get("/tasks"), 401)


def audit(sessions) -> list[AuditEntry]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_changes_and_refusals_are_audited_and_reads_are_not(api, viewer, anonymous, sessions):
    created = new_task(api)
    api.patch("/tasks/report", json={"priority": 2}, headers={"X-Request-Id": "req-42"})
    api.get("/tasks/report")
    viewer.delete("/tasks/report")
    anonymous.get("/tasks")
    api.delete("/tasks/nothing-here")
    rows = audit(sessions)
    seen = [(r.action, r.method, r.target, r.status, r.outcome, r.role) for r in rows]
    assert seen == [
        ("create_task", "POST", str(created["id"]), 201, "ok", ApiRole.ADMIN),
        ("patch_task", "PATCH", "report", 200, "ok", ApiRole.ADMIN),
        ("delete_task", "DELETE", "report", 403, "denied", ApiRole.VIEWER),
        ("list_tasks", "GET", None, 401, "denied", None),
        ("delete_task", "DELETE", "nothing-here", 404, "failed", ApiRole.ADMIN),
    ]
    assert rows[1].request_id == "req-42"
    assert all(r.request_id and r.at for r in rows)
    assert rows[0].key_id is not None and rows[3].key_id is None


def test_admins_page_through_the_audit_and_viewers_may_not(api, viewer):
    for number in range(5):
        new_task(api, name=f"t{number}")
    first = api.get("/audit?limit=3").get_json()
    assert [e["target"] for e in first["items"]] == ["5", "4", "3"]
    rest = api.get(f"/audit?limit=3&cursor={first['next_cursor']}").get_json()
    assert [e["target"] for e in rest["items"]] == ["2", "1"]
    assert rest["next_cursor"] is None
    assert_problem(viewer.get("/audit"), 403)


@pytest.mark.parametrize("header", ["", "bad id with spaces", "x" * 65])
def test_a_request_id_is_made_when_none_usable_is_sent(api, header):
    response = api.get("/tasks", headers={"X-Request-Id": header})
    assert len(response.headers["X-Request-Id"]) == 32
