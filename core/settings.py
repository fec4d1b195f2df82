"""The one typed settings object, read from environment variables.

Every setting has one environment variable. The names the published docs use (``DATABASE_URL``,
``TASK_BACKEND``, ``REDIS_URL``, ``TRIGGER_SECRET_KEY``, ``TRIGGER_API_URL``, ``LLM_MODEL``) are
unprefixed; everything specific to this service is ``CAMPAIGN_CHAT_*``. An unknown
``CAMPAIGN_CHAT_*`` variable or an invalid value stops start-up with a message naming the variable
and what it accepts: a typo must never silently fall back to a default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.errors import ConfigError

PREFIX = "CAMPAIGN_CHAT_"
BACKENDS = ("inline", "arq", "trigger")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _text(name: str, raw: str) -> str:
    return raw


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value not in allowed:
            raise ConfigError(f"{name}={raw!r} is invalid: use one of {', '.join(allowed)}")
        return value

    return parse


def _upper_choice(*allowed: str) -> Callable[[str, str], str]:
    inner = _choice(*allowed)
    return lambda name, raw: inner(name, raw.strip().upper())


def _number(kind: type, low: float, high: float) -> Callable[[str, str], Any]:
    def parse(name: str, raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is invalid: expected {kind.__name__} between {low} and {high}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}={raw!r} is out of range: expected {kind.__name__} between {low} and {high}")
        return value

    return parse


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={raw!r} is invalid: use true or false")


def _url(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in schemes:
            raise ConfigError(f"{name}={raw!r} is invalid: expected a URL starting with one of {', '.join(s + '://' for s in schemes)}")
        return value

    return parse


def _database_url(name: str, raw: str) -> str:
    value = raw.strip()
    if value.startswith(("postgres://", "postgresql://")):
        # Accept the URL form hosting platforms hand out; the async driver is the only one we ship.
        value = "postgresql+asyncpg://" + value.split("://", 1)[1]
    if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            f"{name}={raw!r} is invalid: use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host/db"
        )
    return value


def _existing_dir(name: str, raw: str) -> str:
    if raw and not Path(raw).is_dir():
        raise ConfigError(f"{name}={raw!r} is invalid: expected an existing directory shared by this host's processes")
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    """Service configuration. Build it with :meth:`from_env`; tests build it directly."""

    data_dir: Path = Path(".campaign-chat")
    database_url: str = ""
    task_backend: str = "inline"
    redis_url: str = "redis://127.0.0.1:6379/0"
    trigger_secret_key: str = ""
    trigger_api_url: str = "https://api.trigger.dev"
    llm_model: str = "offline"
    openai_base_url: str = ""
    public_token_secret: str = ""
    public_token_env_id: str = "env_campaign_chat_local"
    public_token_ttl_seconds: int = 3600
    claim_lease_seconds: int = 300
    job_timeout_seconds: int = 240
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_format: str = "auto"
    max_body_bytes: int = 1_048_576
    turn_token_limit: int = 200_000
    example_concurrency: int = 4
    arq_queue_name: str = "campaign-chat:queue"
    metrics_enabled: bool = True
    metrics_port: int = 0  # 0: /metrics on the API's own port
    prometheus_multiproc_dir: str = ""  # read by prometheus-client itself; validated here
    otlp_endpoint: str = ""
    rate_limit_per_minute: int = 600
    auth_cache_seconds: float = 5.0
    idempotency_ttl_seconds: int = 86_400
    worker_concurrency: int = 10
    worker_shutdown_grace_seconds: int = 8
    trigger_dispatch_deadline_seconds: int = 20

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise :class:`ConfigError` naming the first bad variable."""
        env = os.environ if environ is None else environ
        known = {spec.env for spec in _SPECS}
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
        if unknown:
            raise ConfigError(
                f"unknown setting {unknown[0]}: known {PREFIX}* settings are "
                + ", ".join(sorted(k for k in known if k.startswith(PREFIX)))
            )
        values: dict[str, Any] = {}
        for spec in _SPECS:
            raw = env.get(spec.env)
            if raw is not None:
                values[spec.attr] = spec.parse(spec.env, raw)
        settings = cls(**values)
        if not settings.database_url:
            settings = _replace(settings, database_url=f"sqlite+aiosqlite:///{settings.data_dir / 'campaign-chat.db'}")
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules that a single variable cannot express."""
        if self.job_timeout_seconds >= self.claim_lease_seconds:
            raise ConfigError(
                "CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS must be shorter than CAMPAIGN_CHAT_CLAIM_LEASE_SECONDS "
                f"(got {self.job_timeout_seconds} >= {self.claim_lease_seconds}): a turn must end before its claim can be taken over"
            )
        if self.task_backend == "trigger" and not self.trigger_secret_key:
            raise ConfigError("TASK_BACKEND=trigger needs TRIGGER_SECRET_KEY (your tr_dev_… or tr_prod_… secret key)")

    def resolved_token_secret(self) -> str:
        """The HS256 secret for local public tokens: configured, or generated once and kept in the data dir."""
        if self.public_token_secret:
            return self.public_token_secret
        path = self.data_dir / "public-token-secret"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            pass
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = "tr_local_" + secrets.token_urlsafe(32)
        # O_EXCL: two processes starting together must end up with one secret, not two.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secret)
        return secret


@dataclass(frozen=True, slots=True)
class _Spec:
    attr: str
    env: str
    parse: Callable[[str, str], Any]


def _p(name: str) -> str:
    return PREFIX + name


_SPECS: tuple[_Spec, ...] = (
    _Spec("data_dir", _p("DATA_DIR"), lambda n, r: Path(r)),
    _Spec("database_url", "DATABASE_URL", _database_url),
    _Spec("task_backend", "TASK_BACKEND", _choice(*BACKENDS)),
    _Spec("redis_url", "REDIS_URL", _url("redis", "rediss", "unix")),
    _Spec("trigger_secret_key", "TRIGGER_SECRET_KEY", _text),
    _Spec("trigger_api_url", "TRIGGER_API_URL", _url("http", "https")),
    _Spec("llm_model", "LLM_MODEL", lambda n, r: r.strip() or "offline"),
    _Spec("openai_base_url", "OPENAI_BASE_URL", lambda n, r: _url("http", "https")(n, r) if r.strip() else ""),
    _Spec("public_token_secret", _p("PUBLIC_TOKEN_SECRET"), _text),
    _Spec("public_token_env_id", _p("PUBLIC_TOKEN_ENV_ID"), _text),
    _Spec("public_token_ttl_seconds", _p("PUBLIC_TOKEN_TTL_SECONDS"), _number(int, 60, 86_400)),
    _Spec("claim_lease_seconds", _p("CLAIM_LEASE_SECONDS"), _number(int, 2, 86_400)),
    _Spec("job_timeout_seconds", _p("JOB_TIMEOUT_SECONDS"), _number(int, 1, 86_400)),
    _Spec("host", _p("HOST"), _text),
    _Spec("port", _p("PORT"), _number(int, 1, 65_535)),
    _Spec("log_level", _p("LOG_LEVEL"), _upper_choice(*LOG_LEVELS)),
    _Spec("log_format", _p("LOG_FORMAT"), _choice(*LOG_FORMATS)),
    _Spec("max_body_bytes", _p("MAX_BODY_BYTES"), _number(int, 1024, 64 * 1_048_576)),
    _Spec("turn_token_limit", _p("TURN_TOKEN_LIMIT"), _number(int, 100, 10_000_000)),
    _Spec("example_concurrency", _p("EXAMPLE_CONCURRENCY"), _number(int, 1, 64)),
    _Spec("arq_queue_name", _p("ARQ_QUEUE_NAME"), _text),
    _Spec("metrics_enabled", _p("METRICS_ENABLED"), _flag),
    _Spec("metrics_port", _p("METRICS_PORT"), _number(int, 0, 65_535)),
    _Spec("prometheus_multiproc_dir", "PROMETHEUS_MULTIPROC_DIR", _existing_dir),
    _Spec("otlp_endpoint", _p("OTLP_ENDPOINT"), _text),
    _Spec("rate_limit_per_minute", _p("RATE_LIMIT_PER_MINUTE"), _number(int, 0, 1_000_000)),
    _Spec("auth_cache_seconds", _p("AUTH_CACHE_SECONDS"), _number(float, 0, 300)),
    _Spec("idempotency_ttl_seconds", _p("IDEMPOTENCY_TTL_SECONDS"), _number(int, 60, 30 * 86_400)),
    _Spec("worker_concurrency", _p("WORKER_CONCURRENCY"), _number(int, 1, 1_000)),
    _Spec("worker_shutdown_grace_seconds", _p("WORKER_SHUTDOWN_GRACE_SECONDS"), _number(int, 0, 3_600)),
    _Spec("trigger_dispatch_deadline_seconds", _p("TRIGGER_DISPATCH_DEADLINE_SECONDS"), _number(int, 1, 600)),
)


def _replace(settings: Settings, **changes: Any) -> Settings:
    values = {f.name: getattr(settings, f.name) for f in fields(settings)}
    values.update(changes)
    return Settings(**values)


def settings_table() -> list[tuple[str, str]]:
    """(variable, default) pairs, for the README's configuration table and `--help`."""
    defaults = Settings()
    return [(spec.env, str(getattr(defaults, spec.attr))) for spec in _SPECS]
