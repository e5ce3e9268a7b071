"""The suite's default isolation (tests/conftest.py `isolated`): no test sees the user's installation."""

from __future__ import annotations

from pathlib import Path

from openrft.settings import Settings, get_settings


def test_every_test_has_a_private_home(tmp_path: Path) -> None:
    home = get_settings().home
    assert home != Path("~/.openrft").expanduser().resolve()
    assert home.parent == tmp_path.parent  # under pytest's temporary root for this session
    assert Settings().home == home


def test_the_sandbox_pool_and_engine_are_fresh() -> None:
    from openrft.functions import sandbox
    from openrft.inference import engine

    assert sandbox._pool is None and engine._engine is None  # the previous test's were closed
