"""Configuration comes from the environment through one typed object and fails fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = Settings.from_env({"CAMPAIGN_CHAT_DATA_DIR": str(tmp_path)})
    assert settings.task_backend == "inline" and settings.llm_model == "offline"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'campaign-chat.db'}"


@pytest.mark.parametrize(
    ("env", "mentions"),
    [
        ({"TASK_BACKEND": "celery"}, ["TASK_BACKEND", "inline, arq, trigger"]),
        ({"DATABASE_URL": "mysql://x"}, ["DATABASE_URL", "postgresql+asyncpg://"]),
        ({"REDIS_URL": "localhost:6379"}, ["REDIS_URL", "redis://"]),
        ({"CAMPAIGN_CHAT_PORT": "eighty"}, ["CAMPAIGN_CHAT_PORT", "int"]),
        ({"CAMPAIGN_CHAT_PROT": "8000"}, ["unknown setting CAMPAIGN_CHAT_PROT", "CAMPAIGN_CHAT_PORT"]),
        ({"CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS": "1"}, ["CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS", "between 2"]),
        ({"TASK_BACKEND": "trigger"}, ["TRIGGER_SECRET_KEY"]),
    ],
)
def test_an_invalid_setting_names_the_variable_and_what_it_accepts(env: dict[str, str], mentions: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    for text in mentions:
        assert text in str(caught.value)


def test_hosted_postgres_urls_use_the_async_driver() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgres://u:p@db/app"})
    assert settings.database_url == "postgresql+asyncpg://u:p@db/app"


def test_the_local_token_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    from bridge.tokens import local_secret

    first = local_secret("", tmp_path)
    assert len(first) > 32
    assert local_secret("", tmp_path) == first
    assert (tmp_path / "public-token-secret").stat().st_mode & 0o077 == 0
    assert local_secret("configured", tmp_path) == "configured"


def test_reading_settings_touches_no_file(tmp_path: Path) -> None:
    Settings.from_env({"CAMPAIGN_CHAT_DATA_DIR": str(tmp_path / "absent")})
    assert not (tmp_path / "absent").exists()
