"""Fixtures for delivery tests: a temp Jekyll site, the fake platforms, real Services on Redis.

Plain helpers live in ``delivery_helpers.py`` (this folder is put on ``sys.path`` so the tests,
and the end-to-end tests, can import it by name under ``--import-mode=importlib``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.delivery.services import Services
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

sys.path.insert(0, str(Path(__file__).parent))

from delivery_helpers import CHANNEL, CHAT_ID, live_env, make_site


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return make_site(tmp_path / "site")


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as server:
        yield server


@pytest.fixture
def make_services(
    site: Path, tmp_path: Path, redis_client: Any, redis_url: str, redis_namespace: str
) -> Iterator[Callable[..., Services]]:
    made: list[Services] = []

    def build(publishers: list[Any] | None = None, **overrides: Any) -> Services:
        values: dict[str, Any] = {"site_dir": site, "data_dir": tmp_path / "var",
                                  "rate_time_scale": 0.001, **overrides}
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        svc = Services.from_settings(settings, redis_url=redis_url, namespace=redis_namespace,
                                     publishers=publishers)
        made.append(svc)
        return svc

    yield build
    for svc in made:
        svc.close()


@pytest.fixture
def live(make_services: Callable[..., Services], fake_tg: FakeTelegram, fake_x: FakeX
         ) -> Callable[..., Services]:
    """Services with the real publishers pointed at the fake servers."""
    def build(**overrides: Any) -> Services:
        return make_services(**{**live_env(fake_tg, fake_x), **overrides})
    return build
