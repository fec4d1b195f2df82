"""The production path, emulated end to end: nothing of ours is faked, only Trigger.dev's platform.

API (``TASK_BACKEND=trigger``) → fake Trigger.dev (tests/support/fake_trigger.py) → a worker process
running OUR compiled task code on SDK 4.5.10 (trigger/harness/run-worker.ts) → the Python job from the
deploy bundle in a fresh venv → the test PostgreSQL. The realtime subscriber is the same SDK 4.8.3 code
frontends use (node-checks/realtime-check.mjs), pointed at the fake; a local run of the same turn,
followed by the same code against our own service, must stream the same chat events and end the same
way (status, output, error), for a turn that succeeds and for one whose model provider fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Api, LiveServer, app_factory
from tests.support.openai_stub import StubHttpError, openai_stub
from tests.support.realtime import SdkProcess, start_turn, stored_events
from tests.support.fake_trigger import FakeTrigger, Recorded
from tests.support.trigger_worker import SECRET_KEY, TriggerBuild, WorkerLauncher
from tests.support.realtime import merge_deltas

from core.settings import Settings

pytestmark = pytest.mark.timeout(300)  # includes building the bundle when this file runs alone

MESSAGE = "We sell payroll software to restaurants; write an intro email for their owners"
FINISH_SECONDS = 90  # generous: a busy 2-core machine starts Node, then Python with its imports
STATE_KEYS = {"phase", "reply", "framework_version", "skeleton_updated", "draft_updated", "examples", "retries",
              "usage", "error", "status"}
TURN_OUTPUT_KEYS = {"reply", "skeleton_updated", "framework_version", "draft_updated", "validation_retries", "usage"}
ATTEMPT_START = "POST /api/v1/workload-actions/runs/{id}/snapshots/{snapshot}/attempts/start"
ATTEMPT_COMPLETE = "POST /api/v1/workload-actions/runs/{id}/snapshots/{snapshot}/attempts/complete"
OPENAI_KEY = "sk-test-local-0123456789abcdef"


@pytest.fixture
def platform(trigger_build: TriggerBuild, pg_url: str, tmp_path: Path) -> Iterator[tuple[FakeTrigger, WorkerLauncher]]:
    """The fake Trigger.dev, with the task environment one sets in its dashboard, launching workers."""
    launcher = WorkerLauncher(trigger_build, tmp_path)
    fake = FakeTrigger(SECRET_KEY, on_trigger=launcher).start()
    fake.task_env.update(
        DATABASE_URL=pg_url,
        LLM_MODEL="offline",
        CAMPAIGN_CHAT_LOG_FORMAT="json",
        # The extension's deploy layer sets PYTHON_BIN_PATH=/opt/venv/bin/python; here: the bundle's venv.
        PYTHON_BIN_PATH=str(trigger_build.python),
        TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT=f"{fake.url}/otel",
    )
    try:
        yield fake, launcher
    finally:
        fake.close()  # first: no retry may start a worker after the workers are stopped
        launcher.close()


@pytest.fixture
async def trigger_api(platform: tuple[FakeTrigger, WorkerLauncher], pg_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    fake, _ = platform
    settings = Settings(data_dir=tmp_path / "data", database_url=pg_url, log_format="json", rate_limit_per_minute=0,
                        public_token_secret="test-public-token-secret-0123456789abcdef",
                        task_backend="trigger", trigger_api_url=fake.url, trigger_secret_key=SECRET_KEY)
    async with app_factory(settings) as start:
        yield await start()


async def follow(base_url: str, run_id: str, token: str) -> list[dict[str, Any]]:
    """`subscribeToRun(runId).withStreams()` (SDK 4.8.3) until the `done` event and the finished run."""
    sdk = await SdkProcess.start(base_url, run_id, token, "streams", UNTIL_FINISHED="1", TIMEOUT_MS="120000")
    try:
        return await sdk.finish(timeout=FINISH_SECONDS)
    finally:
        sdk.kill()


def chunks(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert {line["stream"] for line in lines if line["kind"] == "chunk"} <= {"chat"}
    return [line["chunk"] for line in lines if line["kind"] == "chunk"]


def finished_run(lines: list[dict[str, Any]]) -> dict[str, Any]:
    runs = [line for line in lines if line["kind"] == "run" and line["finishedAt"]]
    assert runs, f"the subscriber never saw the run finish: {lines}"
    return runs[-1]


def ending(run: dict[str, Any]) -> dict[str, Any]:
    """How a finished run reads to a subscriber: what must be the same for local and production runs."""
    return {key: run[key] for key in ("status", "isCompleted", "isFailed", "isCancelled", "output", "error")}


def provider_down(body: dict[str, Any]) -> dict[str, Any]:
    raise StubHttpError(500, {"error": {"message": "The server had an error while processing your request.",
                                        "type": "server_error"}})


async def local_turn(live_server_factory: Callable[..., LiveServer], pg_url: str, **env: str) -> list[dict[str, Any]]:
    """The same turn run locally (inline, our own realtime API), followed by the same SDK code."""
    server = live_server_factory(DATABASE_URL=pg_url,
                                 CAMPAIGN_CHAT_PUBLIC_TOKEN_SECRET="local-public-token-secret-0123456789", **env)
    key = server.create_key()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await start_turn(client, key, MESSAGE)
        return await follow(server.url, turn["runId"], turn["publicAccessToken"])


async def production_turn(api: Api, fake: FakeTrigger, launcher: WorkerLauncher,
                          message: str = MESSAGE) -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    """One /turn through Trigger.dev, followed by the SDK against the fake until the run has finished
    and its worker exited: (session, run id, SDK lines)."""
    session = await api.create_session()
    response = await api.turn(session["id"], message)
    assert response.status_code == 202, response.text
    run_id, token = response.json()["runId"], response.json()["publicAccessToken"]
    try:
        lines = await follow(fake.url, run_id, token)
        fake.wait_finished(run_id, FINISH_SECONDS)
        assert launcher.wait(run_id, 30) == 0  # the worker reported the attempt and exited normally
    except BaseException:
        print(launcher.log(run_id))
        raise
    return session, run_id, lines


def trigger_raw(fake: FakeTrigger, payload: dict[str, Any]) -> str:
    """Triggers the chat-turn task with ``payload`` as our API would (without an idempotency key); the run id."""
    response = httpx.post(f"{fake.url}/api/v1/tasks/framework-chat-turn/trigger",
                          json={"payload": payload, "options": {"payloadType": "application/json"}},
                          headers={"Authorization": f"Bearer {SECRET_KEY}"})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def routes(requests: list[Recorded]) -> list[str]:
    return [r.route for r in requests]


async def test_a_turn_runs_on_the_emulated_production_path_from_api_to_subscriber(
        trigger_api: Api, platform: tuple[FakeTrigger, WorkerLauncher], pg_url: str) -> None:
    fake, launcher = platform
    session, run_id, lines = await production_turn(trigger_api, fake, launcher)
    run = fake.run(run_id)
    assert run.status == "COMPLETED_SUCCESSFULLY", (run.status, run.error, launcher.log(run_id))

    # The subscriber saw the run finish, with the turn's summary as output and the folded state as metadata.
    final = finished_run(lines)
    assert final["status"] == "COMPLETED" and final["isCompleted"] and final["streams"] == ["chat"]
    assert final["error"] is None and set(final["output"]) == TURN_OUTPUT_KEYS
    metadata = final["metadata"]
    assert set(metadata) <= STATE_KEYS and "chat" not in metadata, metadata
    assert metadata["phase"] == "done" and metadata["status"] == "succeeded"

    # The session row: released, the run it records is Trigger.dev's, the reply is stored.
    done = await trigger_api.get_session(session["id"])
    assert done["task_status"] is None and done["run_id"] is None
    assert done["last_run"]["id"] == run_id and done["last_run"]["status"] == "succeeded"
    assert [m["role"] for m in done["messages"]] == ["user", "assistant"]
    assert metadata["reply"].strip() == done["messages"][-1]["content"].strip()
    assert final["output"]["reply"] == metadata["reply"] and final["output"]["usage"] == metadata["usage"]

    # The chat stream carries what the job stored, and ends with `done`.
    streamed = chunks(lines)
    payload = json.loads(fake.run(run_id).payload)
    assert merge_deltas(streamed) == merge_deltas(await stored_events(pg_url, payload["run_id"]))
    assert streamed[0] == {"type": "phase", "phase": "thinking"}
    assert streamed[-1] == {"type": "done", "status": "succeeded"}

    # What the SDK itself sent from inside the task (recorded by the fake).
    sent = [r for r in fake.requests_for(run_id) if not r.route.startswith("GET ")]
    assert routes(sent)[0] == ATTEMPT_START and routes(sent)[-1] == ATTEMPT_COMPLETE
    assert routes(sent).count(ATTEMPT_START) == 1 and run.attempts == 1
    completion = sent[-1].body["completion"]  # the output packet, as the worker reports it
    assert completion["ok"] is True and completion["id"] == run_id
    assert completion["outputType"] == "application/super+json"
    assert json.loads(completion["output"]) == {"json": final["output"]}
    platform_calls = [r for r in sent if "/workload-actions/" not in r.path]
    assert {r.route for r in platform_calls} == {"PUT /realtime/v1/streams/{id}/{target}/{key}",
                                                 "POST /realtime/v1/streams/{id}/{target}/{key}",
                                                 "PUT /api/v1/runs/{id}/metadata"}
    assert all(r.headers["authorization"] == f"Bearer {SECRET_KEY}" for r in platform_calls)
    stream_calls = [r for r in platform_calls if "/realtime/v1/streams/" in r.path]
    assert {r.path for r in stream_calls} == {f"/realtime/v1/streams/{run_id}/self/chat"}
    assert [r.method for r in stream_calls] == ["PUT", "POST"]  # one writer, one long-lived request
    assert stream_calls[1].body == streamed
    operations = [op for r in platform_calls if r.route.endswith("/metadata") for op in r.body["operations"]]
    assert operations and {op["type"] for op in operations} == {"set"}
    assert {op["key"] for op in operations} <= STATE_KEYS
    assert fake.run(run_id).metadata == metadata

    # The same payload delivered again (a new Trigger.dev run, as a redelivery by the platform would be):
    # the job finds our run already ended and reports how it ended (ran false, the recorded status and
    # output), so this run ends as the first one did, and the session is left as it was.
    again = trigger_raw(fake, payload)
    duplicate = fake.wait_finished(again, FINISH_SECONDS)
    assert duplicate.status == "COMPLETED_SUCCESSFULLY", (duplicate.error, launcher.log(again))
    assert json.loads(duplicate.output) == json.loads(fake.run(run_id).output) and duplicate.attempts == 1
    assert await trigger_api.get_session(session["id"]) == done


async def test_local_and_production_runs_of_a_turn_stream_the_same_chat_events(
        trigger_api: Api, platform: tuple[FakeTrigger, WorkerLauncher], pg_url: str,
        live_server_factory: Callable[..., LiveServer]) -> None:
    """The same subscriber code (SDK 4.8.3 `subscribeToRun(runId).withStreams()`), once against our
    service running the turn inline, once against Trigger.dev (the fake) running it through the task:
    same session state (a new session), same message, same offline model."""
    fake, launcher = platform
    local = await local_turn(live_server_factory, pg_url)
    _, _, production = await production_turn(trigger_api, fake, launcher)

    assert merge_deltas(chunks(local)) == merge_deltas(chunks(production))
    assert chunks(production)[-1] == {"type": "done", "status": "succeeded"}
    local_final, production_final = finished_run(local), finished_run(production)
    assert local_final["status"] == "COMPLETED" and set(local_final["output"]) == TURN_OUTPUT_KEYS
    assert ending(local_final) == ending(production_final)  # status, output (the turn's summary), no error
    assert local_final["streams"] == production_final["streams"] == ["chat"]
    assert local_final["metadata"] == production_final["metadata"]


async def test_local_and_production_runs_of_a_failing_turn_end_failed_alike_and_are_not_retried(
        trigger_api: Api, platform: tuple[FakeTrigger, WorkerLauncher], pg_url: str,
        live_server_factory: Callable[..., LiveServer]) -> None:
    """The model provider answers 500 (an OpenAI-compatible stub, the real provider code calling it), for
    the local run and for the bundle's job: both runs end FAILED with our code as `error.name`, no
    output, the same events and metadata; the production run had exactly one attempt."""
    fake, launcher = platform
    with openai_stub(provider_down) as stub:
        model_env = {"LLM_MODEL": "openai:gpt-4o-mini", "OPENAI_BASE_URL": stub.url, "OPENAI_API_KEY": OPENAI_KEY}
        local = await local_turn(live_server_factory, pg_url, **model_env)
        fake.task_env.update(model_env)
        session, run_id, production = await production_turn(trigger_api, fake, launcher)
    assert stub.seen and {seen.path for seen in stub.seen} == {"/v1/chat/completions"}

    local_final, production_final = finished_run(local), finished_run(production)
    assert local_final["status"] == "FAILED" and local_final["isFailed"] and local_final["output"] is None
    assert local_final["error"]["name"] == "model_error"
    assert ending(local_final) == ending(production_final)  # status, no output, the same error
    assert merge_deltas(chunks(local)) == merge_deltas(chunks(production))
    assert chunks(production)[-1] == {"type": "done", "status": "failed"}
    assert local_final["metadata"] == production_final["metadata"]
    assert production_final["metadata"]["status"] == "failed"

    # One attempt; the worker reported the failure as final (catchError → skipRetrying: no `retry`).
    run = fake.run(run_id)
    assert run.status == "COMPLETED_WITH_ERRORS" and run.attempts == 1 and len(run.completions) == 1
    assert routes(fake.requests_for(run_id)).count(ATTEMPT_START) == 1
    completion = run.completion
    assert completion["ok"] is False and completion.get("retry") is None and completion["skippedRetrying"] is True
    assert completion["error"] == {"type": "BUILT_IN_ERROR", "name": "model_error",
                                   "message": production_final["error"]["message"], "stackTrace": ""}
    assert run.error == completion["error"] and run.output is None

    done = await trigger_api.get_session(session["id"])
    assert done["task_status"] is None and done["last_run"]["id"] == run_id
    assert done["last_run"]["status"] == "failed" and done["last_run"]["error"]["code"] == "model_error"


async def test_a_job_that_fails_before_reaching_its_run_is_retried_then_fails_with_its_stderr(
        platform: tuple[FakeTrigger, WorkerLauncher]) -> None:
    """The Python job exits non-zero before it touched our run (here: no DATABASE_URL in the task
    environment): the task throws with stderr's tail; the config's retry policy applies (the run is
    still pending in our database, another attempt could run it), and once the attempts are used up
    the run ends COMPLETED_WITH_ERRORS with that message."""
    fake, launcher = platform
    del fake.task_env["DATABASE_URL"]
    payload = {"task": "framework-chat-turn", "run_id": "run-that-never-starts", "session_id": "s", "user_id": "u",
               "input": {"message": "hi"}}
    run_id = trigger_raw(fake, payload)
    run = fake.wait_finished(run_id, FINISH_SECONDS)
    assert run.status == "COMPLETED_WITH_ERRORS", (run.status, launcher.log(run_id))
    assert run.error["type"] == "BUILT_IN_ERROR"
    assert "python job failed" in run.error["message"]
    assert "missing environment: DATABASE_URL" in run.error["message"]
    assert launcher.wait(run_id, 30) == 0  # the worker reported the failure and exited normally
    # trigger.config.ts: maxAttempts 2. The first attempt asked for a retry, the second did not.
    assert run.attempts == 2 and [c["ok"] for c in run.completions] == [False, False]
    first, last = run.completions
    assert first["retry"]["delay"] >= 1000 and not first["skippedRetrying"]
    assert last.get("retry") is None and not last["skippedRetrying"]
    assert first["error"]["message"] == last["error"]["message"] == run.error["message"]
