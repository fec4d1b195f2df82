# One image for every process: `serve` (the API, the default) or `worker` (an ARQ worker).
#   docker build -t campaign-chat .
#   docker run -p 8000:8000 -v cc-data:/data campaign-chat                 # API, embedded default
#   docker run --env-file .env campaign-chat worker                        # ARQ worker
#   docker run --env-file .env campaign-chat migrate                       # PostgreSQL migrations
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/venv
# Dependencies first (cached until the lockfile changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY api ./api
COPY bridge ./bridge
COPY cli ./cli
COPY contracts ./contracts
COPY core ./core
COPY jobs ./jobs
COPY ops ./ops
COPY services ./services
COPY store ./store
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data campaign-chat && install -d -o campaign-chat /data
COPY --from=build /venv /venv
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CAMPAIGN_CHAT_HOST=0.0.0.0 \
    CAMPAIGN_CHAT_DATA_DIR=/data
USER campaign-chat
VOLUME ["/data"]
EXPOSE 8000
# Sends SIGTERM on `docker stop`: the API and the worker finish or fail their turns and release claims.
# Keep CAMPAIGN_CHAT_WORKER_SHUTDOWN_GRACE_SECONDS below the stop timeout (docker stop -t, default 10 s).
ENTRYPOINT ["campaign-chat"]
CMD ["serve"]
