"""Staff sign-in, tokens, lockout, account management and the command line."""

from conftest import PASSWORD
from sqlalchemy import select, update

from civic_api.audit.models import AuditEntry
from civic_api.database import session
from civic_api.staff.models import StaffAccount, StaffToken


def login(client, email, password=PASSWORD):
    return client.post("/v1/admin/auth/login", json={"email": email, "password": password})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_tokens_that_work(client, make_staff):
    staff = make_staff("staff", ["prishtina", "drenas"], email="Ana@Example.org")
    response = login(client, "  ANA@example.org ")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_expires_in"] == 14 * 86400
    assert body["access_token"].startswith("cva_")
    assert body["refresh_token"].startswith("cvr_")
    me = client.get("/v1/admin/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["id"] == staff.id
    assert me.json["email"] == "ana@example.org"
    assert me.json["municipalities"] == ["drenas", "prishtina"]
    assert me.json["scopes"] == ["reports:read", "reports:write"]
    # Tokens are stored hashed only.
    stored = session.scalars(select(StaffToken.token_hash)).all()
    assert body["access_token"].encode() not in stored


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make_staff):
    make_staff(email="known@example.org")
    wrong = login(client, "known@example.org", "not the password")
    unknown = login(client, "nobody@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json
        == unknown.json
        == {
            "code": 401,
            "status": "Unauthorized",
            "message": "The email or password is wrong.",
        }
    )


def test_repeated_failures_lock_that_client_out_of_that_account_only(client, app, make_staff):
    make_staff(email="victim@example.org")
    for email in ("victim@example.org", "ghost@example.org"):
        statuses = [login(client, email, "bad password").status_code for _ in range(5)]
        assert statuses == [401] * 5
        locked = login(client, email, PASSWORD)
        assert locked.status_code == 423, locked.json
        assert locked.json["code"] == 423
        assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    # Other accounts are unaffected for this client...
    make_staff(email="other@example.org")
    assert login(client, "other@example.org").status_code == 200
    # ...and the victim, from her own address, still signs in: an outsider cannot lock her out.
    own = app.test_client()
    own.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert login(own, "victim@example.org").status_code == 200


def test_success_clears_the_failures(client, make_staff):
    make_staff(email="late@example.org")
    for _ in range(4):
        assert login(client, "late@example.org", "bad password").status_code == 401
    assert login(client, "late@example.org").status_code == 200
    for _ in range(4):
        assert login(client, "late@example.org", "bad password").status_code == 401
    assert login(client, "late@example.org").status_code == 200


def test_login_rate_limit_per_client(app, client, make_staff):
    make_staff(email="fast@example.org")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = [login(client, f"x{i}@example.org", "bad").status_code for i in range(4)]
        limited = login(client, "fast@example.org")
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "20 per minute"
    assert statuses == [401, 401, 401, 429]
    assert limited.status_code == 429
    assert limited.json["code"] == 429
    assert limited.json["message"]
    assert "Retry-After" in limited.headers


def test_refresh_rotates_and_reuse_revokes_the_session(client, make_staff):
    make_staff(email="r@example.org")
    first = login(client, "r@example.org").json
    second = client.post("/v1/admin/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    new = second.json
    assert new["access_token"] != first["access_token"]
    # The old access token was revoked with the rotation; the new one works.
    assert client.get("/v1/admin/me", headers=bearer(first["access_token"])).status_code == 401
    assert client.get("/v1/admin/me", headers=bearer(new["access_token"])).status_code == 200
    # Replaying the used refresh token ends the whole session.
    replay = client.post("/v1/admin/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert client.get("/v1/admin/me", headers=bearer(new["access_token"])).status_code == 401
    again = client.post("/v1/admin/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert again.status_code == 401


def test_logout_revokes_access_and_refresh(client, make_staff):
    make_staff(email="out@example.org")
    tokens = login(client, "out@example.org").json
    other = login(client, "out@example.org").json
    assert (
        client.post("/v1/admin/auth/logout", headers=bearer(tokens["access_token"])).status_code
        == 204
    )
    assert client.get("/v1/admin/me", headers=bearer(tokens["access_token"])).status_code == 401
    refreshed = client.post(
        "/v1/admin/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    # Another session of the same person is not signed out.
    assert client.get("/v1/admin/me", headers=bearer(other["access_token"])).status_code == 200


def test_password_change_revokes_every_token(client, make_staff):
    make_staff(email="pw@example.org")
    tokens = login(client, "pw@example.org").json
    headers = bearer(tokens["access_token"])
    weak = client.put(
        "/v1/admin/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert weak.status_code == 422
    assert weak.json["errors"]["json"]["new_password"] == ["Must be at least 12 characters long."]
    wrong = client.put(
        "/v1/admin/me/password",
        json={"current_password": "not it at all", "new_password": "a brand new password"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert list(wrong.json["errors"]["json"]) == ["current_password"]
    changed = client.put(
        "/v1/admin/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=headers,
    )
    assert changed.status_code == 204
    assert client.get("/v1/admin/me", headers=headers).status_code == 401
    assert login(client, "pw@example.org").status_code == 401
    assert login(client, "pw@example.org", "a brand new password").status_code == 200


def test_deactivation_revokes_tokens_and_blocks_login(client, staff_client):
    manager = staff_client("manager", ["prishtina"])
    worker = staff_client("staff", ["prishtina"])
    assert worker.get("/v1/admin/me").status_code == 200
    response = manager.patch(f"/v1/admin/staff/{worker.staff.id}", json={"active": False})
    assert response.status_code == 200, response.json
    assert response.json["active"] is False
    assert worker.get("/v1/admin/me").status_code == 401
    assert login(client, worker.staff.email).status_code == 401
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == "staff").order_by(AuditEntry.id.desc())
    ).first()
    assert (entry.action, entry.actor_id) == ("staff.update", manager.staff.id)
    assert entry.before["active"] is True and entry.after["active"] is False
    assert "password_hash" not in entry.after


def test_personal_tokens_are_scoped_expiring_and_revocable(client, staff_client, submit):
    report = submit().json
    staff = staff_client("staff", ["prishtina"])
    made = staff.post(
        "/v1/admin/tokens",
        json={"name": "dashboard", "scopes": ["reports:read"], "expires_in_days": 30},
    )
    assert made.status_code == 201, made.json
    token = made.json["token"]
    assert token.startswith("cvp_")
    headers = bearer(token)
    assert client.get("/v1/admin/reports", headers=headers).status_code == 200
    denied = client.patch(
        f"/v1/admin/reports/{report['id']}", json={"priority": "high"}, headers=headers
    )
    assert denied.status_code == 403
    # A personal token cannot mint more tokens.
    minted = client.post(
        "/v1/admin/tokens",
        json={"name": "x", "scopes": ["reports:read"], "expires_in_days": 1},
        headers=headers,
    )
    assert minted.status_code == 403
    beyond = staff.post(
        "/v1/admin/tokens", json={"name": "x", "scopes": ["staff:write"], "expires_in_days": 1}
    )
    assert beyond.status_code == 422
    assert beyond.json["errors"]["json"]["scopes"] == ["Your role does not have: staff:write."]
    too_long = staff.post(
        "/v1/admin/tokens", json={"name": "x", "scopes": ["reports:read"], "expires_in_days": 366}
    )
    assert too_long.status_code == 422
    listed = staff.get("/v1/admin/tokens").json
    assert [(t["name"], t["scopes"]) for t in listed] == [("dashboard", ["reports:read"])]
    assert "token" not in listed[0]
    session.execute(
        update(StaffToken)
        .where(StaffToken.kind == "personal")
        .values(expires_at=StaffToken.created_at)
    )
    session.commit()
    assert client.get("/v1/admin/reports", headers=headers).status_code == 401
    assert staff.delete(f"/v1/admin/tokens/{made.json['id']}").status_code == 204
    assert staff.get("/v1/admin/tokens").json[0]["revoked_at"] is not None


def test_bad_authorization_headers_are_401(client):
    for value in ("", "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "bearer cva_" + "x" * 43):
        response = client.get("/v1/admin/me", headers={"Authorization": value})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_manager_creates_staff_only_in_their_municipalities(staff_client):
    manager = staff_client("manager", ["prishtina"])
    body = {"email": "n@example.org", "role": "staff", "password": "a long new password"}
    created = manager.post("/v1/admin/staff", json=body | {"municipalities": ["prishtina"]})
    assert created.status_code == 201, created.json
    assert created.json["municipalities"] == ["prishtina"]
    foreign = manager.post(
        "/v1/admin/staff", json=body | {"email": "m@example.org", "municipalities": ["drenas"]}
    )
    assert foreign.status_code == 403
    admin = manager.post("/v1/admin/staff", json=body | {"email": "a@example.org", "role": "admin"})
    assert admin.status_code == 403
    taken = manager.post("/v1/admin/staff", json=body | {"municipalities": ["prishtina"]})
    assert taken.status_code == 409
    unknown = manager.post(
        "/v1/admin/staff", json=body | {"email": "u@example.org", "municipalities": ["atlantis"]}
    )
    assert unknown.status_code == 422
    assert unknown.json["errors"]["json"]["municipalities"] == ["Unknown municipalities: atlantis."]


def test_manager_cannot_touch_staff_beyond_their_reach(staff_client, make_staff):
    manager = staff_client("manager", ["prishtina"])
    shared = make_staff("staff", ["prishtina", "drenas"])
    foreign = make_staff("staff", ["drenas"])
    assert manager.get(f"/v1/admin/staff/{foreign.id}").status_code == 404
    assert manager.get(f"/v1/admin/staff/{shared.id}").status_code == 200
    assert manager.patch(f"/v1/admin/staff/{shared.id}", json={"active": False}).status_code == 403
    listed = {s["id"] for s in manager.get("/v1/admin/staff").json}
    assert shared.id in listed and foreign.id not in listed
    self_demote = manager.patch(f"/v1/admin/staff/{manager.staff.id}", json={"active": False})
    assert self_demote.status_code == 403


def test_cli_creates_and_deactivates_accounts(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "cli@example.org",
            "--role",
            "manager",
            "--municipality",
            "prishtina",
            "--password",
            "a long cli password",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "created manager cli@example.org" in result.output
    weak = runner.invoke(
        args=[
            "staff",
            "create",
            "--email",
            "w@example.org",
            "--role",
            "admin",
            "--password",
            "short",
        ]
    )
    assert weak.exit_code == 1
    assert "at least 12 characters" in weak.output
    result = runner.invoke(args=["staff", "deactivate", "cli@example.org"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        account = session.scalar(
            select(StaffAccount).where(StaffAccount.email == "cli@example.org")
        )
        assert account.active is False


def test_admins_manage_categories_and_municipalities(client, staff_client):
    admin = staff_client("admin")
    changed = admin.patch(
        "/v1/admin/categories/public_lighting", json={"response_target_hours": 24, "active": False}
    )
    assert changed.status_code == 200, changed.json
    assert (changed.json["response_target_hours"], changed.json["active"]) == (24, False)
    assert client.get("/v1/categories/public_lighting").status_code == 404
    assert (
        admin.patch("/v1/admin/categories/commenting", json={"sensitive": False}).status_code == 409
    )
    assert (
        admin.patch("/v1/admin/categories/waste", json={"sensitive": True}).json["sensitive"]
        is True
    )
    assert admin.patch("/v1/admin/categories/nope", json={"active": True}).status_code == 404
    renamed = admin.patch(
        "/v1/admin/municipalities/prishtina",
        json={"population": 227_154, "timezone": "Europe/Belgrade"},
    )
    assert renamed.status_code == 200, renamed.json
    assert renamed.json["population"] == 227_154
    bad = admin.patch(
        "/v1/admin/municipalities/prishtina", json={"timezone": "Mars/Base", "name": {"en": "P"}}
    )
    assert bad.status_code == 422
    assert set(bad.json["errors"]["json"]) == {"timezone", "name"}
    actions = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.entity_type.in_(("category", "municipality")))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == ["category.update", "category.update", "municipality.update"]


def test_login_rate_limit_keys_on_the_trusted_proxy_address(make_staff, database_url):
    from civic_api import create_app
    from civic_api.extensions import limiter

    bind = session.session_factory.kw["bind"]  # the test's transaction
    behind = create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "SECRET_KEY": "x" * 32,
            "TRUSTED_PROXIES": 1,
            "LOGIN_RATE_LIMIT": "2 per minute",
        }
    )
    # create_app binds the shared session to its engine: back into the test's transaction.
    session.remove()
    session.configure(bind=bind, join_transaction_mode="create_savepoint")
    client = behind.test_client()
    limiter.reset()

    def attempt(address):
        return client.post(
            "/v1/admin/auth/login",
            json={"email": "proxied@example.org", "password": "x"},
            headers={"X-Forwarded-For": address},
        ).status_code

    assert [attempt("203.0.113.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("203.0.113.2") == 401  # another client behind the same proxy
    behind.extensions["engine"].dispose()
