import httpx
import openai
import pytest

from tests.conftest import LiveServer


def test_health_needs_no_key(live_server: LiveServer) -> None:
    assert httpx.get(live_server.base_url + "/health").json()["status"] == "ok"


def test_unknown_key_is_401_in_openai_shape(live_server: LiveServer) -> None:
    bad = live_server.openai_client(api_key="sk-wrong-key-000000000000")
    with pytest.raises(openai.AuthenticationError) as err:
        bad.files.list()
    assert err.value.status_code == 401
    assert err.value.body["code"] == "invalid_api_key"  # type: ignore[index]


def test_missing_key_is_401(live_server: LiveServer) -> None:
    response = httpx.get(live_server.v1 + "/files")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
