"""The one typed settings object, read from environment variables.

Each setting is declared once, as a field of :class:`Settings` carrying its variable, its parser and
its default. The names the published docs use (``DATABASE_URL``, ``TASK_BACKEND``, ``REDIS_URL``,
``TRIGGER_SECRET_KEY``, ``TRIGGER_API_URL``, ``LLM_MODEL``, ``OPENAI_BASE_URL``) are unprefixed;
everything specific to this service is ``CAMPAIGN_CHAT_*``. An unknown ``CAMPAIGN_CHAT_*`` variable
or an invalid value stops start-up with a message naming the variable and what it accepts: a typo
must never silently fall back to a default. Reading settings does no other I/O.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from core.errors import ConfigError

PREFIX = "CAMPAIGN_CHAT_"
BACKENDS = ("inline", "arq", "trigger")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

Parser = Callable[[str, str], Any]


def _text(name: str, raw: str) -> str:
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(raw)


def _choice(*allowed: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        if value not in allowed:
            raise ConfigError(f"{name}={raw!r} is invalid: use one of {', '.join(allowed)}")
        return value

    return parse


def _upper_choice(*allowed: str) -> Parser:
    inner = _choice(*allowed)
    return lambda name, raw: inner(name, raw.strip().upper())


def _number(kind: type, low: float, high: float) -> Parser:
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


def _url(*schemes: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in schemes:
            raise ConfigError(f"{name}={raw!r} is invalid: expected a URL starting with one of {', '.join(s + '://' for s in schemes)}")
        return value

    return parse


def _optional_url(*schemes: str) -> Parser:
    inner = _url(*schemes)
    return lambda name, raw: inner(name, raw) if raw.strip() else ""


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


def _model(name: str, raw: str) -> str:
    return raw.strip() or "offline"


def setting(default: Any, env: str, parse: Parser, *, prefixed: bool = True) -> Any:
    """Declare a setting: its default, its environment variable (``CAMPAIGN_CHAT_`` + ``env`` unless
    ``prefixed=False``) and how to read it."""
    return dataclasses.field(default=default, metadata={"env": PREFIX + env if prefixed else env, "parse": parse})


@dataclass(frozen=True, slots=True)
class Settings:
    """Service configuration. Build it with :meth:`from_env`; tests build it directly."""

    data_dir: Path = setting(Path(".campaign-chat"), "DATA_DIR", _path)
    database_url: str = setting("", "DATABASE_URL", _database_url, prefixed=False)
    task_backend: str = setting("inline", "TASK_BACKEND", _choice(*BACKENDS), prefixed=False)
    redis_url: str = setting("redis://127.0.0.1:6379/0", "REDIS_URL", _url("redis", "rediss", "unix"), prefixed=False)
    trigger_secret_key: str = setting("", "TRIGGER_SECRET_KEY", _text, prefixed=False)
    trigger_api_url: str = setting("https://api.trigger.dev", "TRIGGER_API_URL", _url("http", "https"), prefixed=False)
    llm_model: str = setting("offline", "LLM_MODEL", _model, prefixed=False)
    openai_base_url: str = setting("", "OPENAI_BASE_URL", _optional_url("http", "https"), prefixed=False)
    public_token_secret: str = setting("", "PUBLIC_TOKEN_SECRET", _text)
    public_token_env_id: str = setting("env_campaign_chat_local", "PUBLIC_TOKEN_ENV_ID", _text)
    public_token_ttl_seconds: int = setting(3600, "PUBLIC_TOKEN_TTL_SECONDS", _number(int, 60, 86_400))
    # A running task renews its claim's lease every third of this (the heartbeat), however long it runs;
    # a dead executor's session is claimable again within it. Short on purpose, and independent of
    # the job timeout: it bounds how long a crash keeps a session busy, not how long a turn may take.
    claim_lease_seconds: int = setting(15, "CLAIM_LEASE_SECONDS", _number(int, 2, 86_400))
    # How long a dispatched run may wait in its queue before it starts, or its claim ends.
    queue_lease_seconds: int = setting(300, "QUEUE_LEASE_SECONDS", _number(int, 5, 86_400))
    # The task's own deadline (the turn fails timed_out); the heartbeat keeps the claim until then.
    job_timeout_seconds: int = setting(240, "JOB_TIMEOUT_SECONDS", _number(int, 1, 86_400))
    host: str = setting("127.0.0.1", "HOST", _text)
    port: int = setting(8000, "PORT", _number(int, 1, 65_535))
    log_level: str = setting("INFO", "LOG_LEVEL", _upper_choice(*LOG_LEVELS))
    log_format: str = setting("auto", "LOG_FORMAT", _choice(*LOG_FORMATS))
    max_body_bytes: int = setting(1_048_576, "MAX_BODY_BYTES", _number(int, 1024, 64 * 1_048_576))
    # `serve`'s HTTP server (api/server.py): the request line and headers, 431 beyond.
    max_header_bytes: int = setting(32_768, "MAX_HEADER_BYTES", _number(int, 1024, 1_048_576))
    # A request head must arrive within this of the connection opening (or of its first byte), a body
    # within the next setting of its head: 408 and the connection closed otherwise.
    header_timeout_seconds: float = setting(10.0, "HEADER_TIMEOUT_SECONDS", _number(float, 0.5, 600))
    body_timeout_seconds: float = setting(30.0, "BODY_TIMEOUT_SECONDS", _number(float, 0.5, 3_600))
    # An idle kept-alive connection is closed after this.
    keep_alive_seconds: float = setting(5.0, "KEEP_ALIVE_SECONDS", _number(float, 0.5, 600))
    # Open connections per `serve` process; one more is answered 503 and closed.
    max_connections: int = setting(1_000, "MAX_CONNECTIONS", _number(int, 1, 1_000_000))
    turn_token_limit: int = setting(200_000, "TURN_TOKEN_LIMIT", _number(int, 100, 10_000_000))
    example_concurrency: int = setting(4, "EXAMPLE_CONCURRENCY", _number(int, 1, 64))
    arq_queue_name: str = setting("campaign-chat:queue", "ARQ_QUEUE_NAME", _text)
    metrics_enabled: bool = setting(True, "METRICS_ENABLED", _flag)
    metrics_port: int = setting(0, "METRICS_PORT", _number(int, 0, 65_535))  # 0: /metrics on the API's port
    # Read by prometheus-client itself; validated here.
    prometheus_multiproc_dir: str = setting("", "PROMETHEUS_MULTIPROC_DIR", _existing_dir, prefixed=False)
    otlp_endpoint: str = setting("", "OTLP_ENDPOINT", _text)
    rate_limit_per_minute: int = setting(600, "RATE_LIMIT_PER_MINUTE", _number(int, 0, 1_000_000))
    auth_cache_seconds: float = setting(5.0, "AUTH_CACHE_SECONDS", _number(float, 0, 300))
    # Realtime shape requests and streams one public token (or API key) may hold open at once per
    # process; one more is 429 realtime_connection_limit.
    realtime_connections_per_token: int = setting(20, "REALTIME_CONNECTIONS_PER_TOKEN", _number(int, 1, 10_000))
    # Failed API-key lookups per client address per minute before 429 auth_throttled (0 disables).
    auth_failures_per_minute: int = setting(20, "AUTH_FAILURES_PER_MINUTE", _number(int, 0, 1_000_000))
    idempotency_ttl_seconds: int = setting(86_400, "IDEMPOTENCY_TTL_SECONDS", _number(int, 60, 30 * 86_400))
    # Tokens (input + output) one user may spend per UTC day; then /turn and /generate-examples answer
    # 429 spend_limit_reached until midnight UTC (0: no limit). All of a user's API keys share it.
    daily_token_limit: int = setting(0, "DAILY_TOKEN_LIMIT", _number(int, 0, 10**12))
    # Sessions nobody changed for this many days are erased with their runs (0: kept until deleted).
    session_retention_days: int = setting(0, "SESSION_RETENTION_DAYS", _number(int, 0, 36_500))
    worker_concurrency: int = setting(10, "WORKER_CONCURRENCY", _number(int, 1, 1_000))
    # TASK_BACKEND=inline: run turns in a worker process the API starts (the accept path never waits
    # for work), or, when false, on the API's own event loop.
    embedded_worker: bool = setting(True, "EMBEDDED_WORKER", _flag)
    # The embedded worker's CPU priority below the API's (nice increment): when both want the CPU,
    # accepting work wins and turns drain with what is left.
    embedded_worker_nice: int = setting(10, "EMBEDDED_WORKER_NICE", _number(int, 0, 19))
    worker_shutdown_grace_seconds: int = setting(8, "WORKER_SHUTDOWN_GRACE_SECONDS", _number(int, 0, 3_600))
    trigger_dispatch_deadline_seconds: int = setting(20, "TRIGGER_DISPATCH_DEADLINE_SECONDS", _number(int, 1, 600))

    @property
    def uses_redis(self) -> bool:
        """Redis is a dependency (queue, wake-ups, shared rate limits) when tasks go through ARQ."""
        return self.task_backend == "arq"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_url(self) -> str:
        """The embedded database: a SQLite file in the data directory."""
        return f"sqlite+aiosqlite:///{self.data_dir / 'campaign-chat.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every setting; raise :class:`ConfigError` naming the first bad variable."""
        env = os.environ if environ is None else environ
        specs = _specs()
        known = {variable for variable, _, _ in specs}
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known)
        if unknown:
            raise ConfigError(
                f"unknown setting {unknown[0]}: known {PREFIX}* settings are "
                + ", ".join(sorted(k for k in known if k.startswith(PREFIX)))
            )
        values = {name: parse(variable, env[variable]) for variable, name, parse in specs if variable in env}
        settings = cls(**values)
        if not settings.database_url:
            settings = dataclasses.replace(settings, database_url=settings.sqlite_url)
        settings.check()
        return settings

    def check(self) -> None:
        """Cross-field rules that a single variable cannot express."""
        if self.task_backend == "trigger" and not self.trigger_secret_key:
            raise ConfigError("TASK_BACKEND=trigger needs TRIGGER_SECRET_KEY (your tr_dev_… or tr_prod_… secret key)")


def _specs() -> list[tuple[str, str, Parser]]:
    """(variable, attribute, parser) of every setting, in declaration order."""
    return [(f.metadata["env"], f.name, f.metadata["parse"]) for f in fields(Settings)]


def settings_table() -> list[tuple[str, str]]:
    """(variable, default) pairs, for the README's configuration table and `--help`."""
    return [(f.metadata["env"], str(f.default)) for f in fields(Settings)]
