"""The model registry and export: base folders, adapters vs full models, errors, merged export."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from openrft.auth.keys import ensure_bootstrap
from openrft.errors import InvalidRequest, NotFound
from openrft.inference import registry
from openrft.inference.export import export_model
from openrft.settings import Settings
from openrft.store.db import Store
from tests.inference.tiny import tiny_dirs_fixture  # noqa: F401


@pytest.fixture
def store(settings: Settings) -> Store:
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store.from_settings(settings)
    ensure_bootstrap(store, settings)  # the default project the adapters belong to
    return store


def _register(store: Store, model_id: str, path: Path, project: str | None = None, kind: str = "fine_tuned") -> None:
    with store.begin() as conn:
        registry.register_adapter(
            conn,
            model_id=model_id,
            project_id=project or "proj_default",
            kind=kind,
            base_model="tiny",
            path=path,
            job_id="ftjob-1",
        )


def test_add_base_model_validates_the_folder(
    store: Store, settings: Settings, tmp_path: Path, tiny_dirs: tuple[Path, Path]
) -> None:
    with pytest.raises(InvalidRequest) as err:
        registry.add_base_model(store, settings, "empty", tmp_path)
    assert err.value.param == "path"
    with pytest.raises(InvalidRequest):
        registry.add_base_model(store, settings, "ft:bad", tiny_dirs[0])
    registry.add_base_model(store, settings, "tiny", tiny_dirs[0])
    resolved = registry.resolve(store, settings, None, "tiny")
    assert resolved.kind == "base" and resolved.base_path == tiny_dirs[0] and resolved.adapter_path is None
    assert registry.model_exists(store, "proj_any", "tiny")


def test_resolve_adapter_full_model_and_missing(
    store: Store, settings: Settings, tmp_path: Path, tiny_dirs: tuple[Path, Path]
) -> None:
    base, adapter = tiny_dirs
    registry.add_base_model(store, settings, "tiny", base)
    _register(store, "ft:tiny:proj_default::a", adapter)
    full = shutil.copytree(base, tmp_path / "full")  # trained without LoRA: a whole model folder
    _register(store, "ft:tiny:proj_default::b", full, kind="checkpoint")
    a = registry.resolve(store, settings, "proj_default", "ft:tiny:proj_default::a")
    assert (a.base_path, a.adapter_path, a.base_model) == (base, adapter, "tiny")
    b = registry.resolve(store, settings, "proj_default", "ft:tiny:proj_default::b")
    assert (b.kind, b.base_path, b.adapter_path) == ("checkpoint", full, None)
    with pytest.raises(NotFound) as err:
        registry.resolve(store, settings, "proj_other", "ft:tiny:proj_default::a")
    assert (err.value.code, err.value.param) == ("model_not_found", "model")
    assert [r["id"] for r in registry.list_models(store, "proj_default")][-2:] == [
        "ft:tiny:proj_default::a",
        "ft:tiny:proj_default::b",
    ]
    assert not registry.model_exists(store, "proj_other", "ft:tiny:proj_default::b")


def test_export_writes_merged_model_and_adapter(
    store: Store, settings: Settings, tmp_path: Path, tiny_dirs: tuple[Path, Path]
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base, adapter = tiny_dirs
    registry.add_base_model(store, settings, "tiny", base)
    _register(store, "ft:tiny:proj_default::a", adapter)
    out = tmp_path / "export"
    export_model(store, settings, "ft:tiny:proj_default::a", out)
    merged = AutoModelForCausalLM.from_pretrained(out)  # plain transformers, no PEFT
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), out / "adapter")
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, with_adapter(ids).logits, rtol=1e-4, atol=1e-4)
        assert not torch.allclose(merged(ids).logits, AutoModelForCausalLM.from_pretrained(base)(ids).logits)
    with pytest.raises(Exception, match="not empty"):
        export_model(store, settings, "ft:tiny:proj_default::a", out)


def test_cli_add_and_export(settings: Settings, tmp_path: Path, tiny_dirs: tuple[Path, Path]) -> None:
    from openrft.cli.models import app

    runner = CliRunner()
    result = runner.invoke(app, ["add", "tiny-cli", str(tiny_dirs[0])])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["add", "bad", str(tmp_path)]).exit_code == 1
    result = runner.invoke(app, ["export", "tiny-cli", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "config.json").is_file() and not (tmp_path / "out" / "adapter").exists()
