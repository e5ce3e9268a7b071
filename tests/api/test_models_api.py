"""Contract tests of /v1/models through the openai SDK: listing, retrieval, deletion, project isolation."""

from __future__ import annotations

import json

import openai
import pytest

from openrft.inference.registry import DEFAULT_BASE_MODEL
from tests.conftest import LiveServer, not_found
from tests.inference.tiny import TinyModels, other_project_key, tiny_dirs_fixture, tiny_fixture  # noqa: F401


def test_list_and_retrieve(client: openai.OpenAI, tiny: TinyModels) -> None:
    models = {m.id: m for m in client.models.list()}
    assert {DEFAULT_BASE_MODEL, tiny.base, tiny.fine_tuned} <= set(models)
    assert models[tiny.base].owned_by == "openrft" and models[tiny.base].object == "model"
    assert models[tiny.fine_tuned].owned_by == "proj_default" and models[tiny.fine_tuned].created > 0
    got = client.models.retrieve(tiny.fine_tuned)  # the id has colons: the path takes them whole
    assert got.id == tiny.fine_tuned and got.owned_by == "proj_default"
    assert client.models.retrieve(DEFAULT_BASE_MODEL).owned_by == "openrft"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("nope")
    assert err.value.code == "model_not_found"


def test_other_project_sees_base_models_only(live_server: LiveServer, tiny: TinyModels) -> None:
    other = live_server.openai_client(api_key=other_project_key(live_server.settings))
    ids = {m.id for m in other.models.list()}
    assert tiny.base in ids and tiny.fine_tuned not in ids
    for call in (other.models.retrieve, other.models.delete):
        not_found(
            lambda call=call: call(tiny.fine_tuned), code="model_not_found", param="model", mentions=tiny.fine_tuned
        )


def test_delete_fine_tuned_model(client: openai.OpenAI, tiny: TinyModels) -> None:
    reply = client.chat.completions.create(
        model=tiny.fine_tuned, messages=[{"role": "user", "content": "hi"}], max_tokens=3
    )
    assert reply.choices[0].message.content is not None
    deleted = client.models.delete(tiny.fine_tuned)
    assert deleted.id == tiny.fine_tuned and deleted.deleted is True and deleted.object == "model"
    assert tiny.fine_tuned not in {m.id for m in client.models.list()}
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model=tiny.fine_tuned, messages=[{"role": "user", "content": "hi"}])
    assert err.value.code == "model_not_found"
    not_found(lambda: client.models.delete(tiny.fine_tuned), code="model_not_found", param="model",
              mentions=tiny.fine_tuned)  # fmt: skip


def test_base_models_cannot_be_deleted(client: openai.OpenAI, tiny: TinyModels) -> None:
    for model in (tiny.base, DEFAULT_BASE_MODEL):
        with pytest.raises(openai.BadRequestError) as err:
            client.models.delete(model)
        assert err.value.code == "model_not_deletable" and err.value.param == "model"
    assert client.models.retrieve(tiny.base).id == tiny.base


def test_cli_models_list(live_server: LiveServer, tiny: TinyModels) -> None:
    from typer.testing import CliRunner

    from openrft.cli.main import app

    args = ["--base-url", live_server.base_url, "--api-key", live_server.admin_key, "models", "list", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    ids = {m["id"] for m in json.loads(result.output)}
    assert {DEFAULT_BASE_MODEL, tiny.base, tiny.fine_tuned} <= ids
