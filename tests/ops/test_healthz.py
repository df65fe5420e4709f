import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_queue_without_auth(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "queue": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_is_503_when_the_queue_is_unreachable(client, monkeypatch):
    from django_q.brokers import orm

    def refuse(self):
        raise ConnectionError("broker down")

    monkeypatch.setattr(orm.ORM, "ping", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["queue"] == "unavailable"
    assert "broker down" not in response.content.decode()
