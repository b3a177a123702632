def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_login_and_me(make_user):
    user, api = make_user("monitor")
    resp = api.get("/api/v1/auth/me")
    assert resp.status_code == 200
    assert resp.get_json()["username"] == user.username
