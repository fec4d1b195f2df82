#!/usr/bin/env python3
"""CPU of one chat turn inside the agent, for the offline model and for the OpenAI provider.

    uv run python bench/turn_cpu.py [--turns 300] [--gap-ms 20]

Both run the real pydantic-ai agent and its streaming path (output validators, reply deltas, usage)
into an in-memory reporter, in this process, and print CPU milliseconds per turn (process time, so
other load on the machine does not count). The OpenAI row talks HTTP to a local stand-in for
``/v1/chat/completions`` (tests/support/openai_stub.py) running in a *separate process*, so only the
client side is timed; it streams back the same structured output the offline model produced, in
the stub's usual 9-character pieces.

``--gap-ms`` also times the offline turn when each one follows a pause (an idle wait, as a worker
between turns that arrive one by one): the same code then runs with cold caches, and costs more CPU.

The "pydantic-ai alone" row is the library's own cost of one run that does nothing of ours (a function
model streaming a one-field output in one piece, iterated and streamed the way our turns are): the floor
under any turn that goes through the agent, whatever this repository does around it.

``--pieces`` splits the offline turn's agent CPU into a part per run and a part per streamed piece:
the same turn is timed with the offline model's output cut into 2, 10, 18 and 36 pieces (interleaved,
best of ``--rounds``), and a least-squares line through the four points gives both. The piece sizes
are changed in this process only, for the measurement.

What this leaves out, and where to find it: the claim, the run's start, event batches and end in the
database, and the worker's messages to the API. ``bench/compare_peers.py`` reports the whole turn
("CPU from first dispatch until drained") for the embedded default and ARQ, and ``bench/soak.py``
prints CPU and SQL statements per accepted turn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.events import RecordingReporter  # noqa: E402
from core.settings import Settings  # noqa: E402
from jobs.llm import TurnContext  # noqa: E402
from jobs.llm_factory import build_llm  # noqa: E402

CONTEXT = TurnContext(
    message="Audience: VPs of Sales at SaaS companies. Offer: payroll software that saves 5 hours a week. "
            "CTA: a 15-minute call.",
    transcript=[{"role": "user", "content": "Write an intro email"}, {"role": "assistant", "content": "Who is it for?"}],
    skeleton=None, framework_version=None, draft_subject=None, draft_body=None,
    allowed_vars=["first_name", "company"], sample_leads=[], sequence_context=None)

STUB = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from tests.support.openai_stub import openai_stub
answer = json.loads(open(sys.argv[2]).read())
with openai_stub(lambda body: answer) as stub:
    print(stub.url, flush=True)
    time.sleep(3600)
"""


async def _cpu_per_turn(llm: object, turns: int, warmup: int = 20, gap_s: float = 0.0) -> tuple[float, int]:
    events = 0
    for _ in range(warmup):
        await llm.chat_turn(CONTEXT, RecordingReporter())  # type: ignore[attr-defined]
    spent = 0.0
    for _ in range(turns):
        if gap_s:
            await asyncio.sleep(gap_s)  # not timed: only the turns' own CPU counts
        reporter = RecordingReporter()
        began = time.process_time()
        await llm.chat_turn(CONTEXT, reporter)  # type: ignore[attr-defined]
        spent += time.process_time() - began
        events += len(reporter.events)
    return spent * 1000 / turns, events // turns


def _arguments(result: object) -> dict[str, object]:
    """The output tool call's arguments behind a turn's result (the offline model's key order)."""
    return {"reply": result.reply, "skeleton": result.skeleton,  # type: ignore[attr-defined]
            "draft_subject": result.draft_subject, "draft_body": result.draft_body}  # type: ignore[attr-defined]


async def _floor_ms(turns: int) -> float:
    """CPU of a pydantic-ai run that does nothing of ours: a function model that streams a one-field output
    in one piece, iterated node by node and streamed as ``AgentLLM.chat_turn`` does, no validator, no deps.
    The library's own cost per run, the floor under any turn that goes through the agent."""
    from pydantic import BaseModel
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, ToolCallPart
    from pydantic_ai.models.function import DeltaToolCall, FunctionModel

    class Reply(BaseModel):
        reply: str

    def respond(messages: list[object], info: object) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"reply": "Hi"})])  # type: ignore[attr-defined]

    async def stream(messages: list[object], info: object) -> object:
        yield {0: DeltaToolCall(name=info.output_tools[0].name, json_args='{"reply": "Hi"}')}  # type: ignore[attr-defined]

    agent = Agent(FunctionModel(respond, stream_function=stream), output_type=Reply)

    async def one() -> None:
        async with agent.iter("Hi") as run:
            async for node in run:
                if Agent.is_model_request_node(node):
                    async with node.stream(run.ctx) as events:
                        async for _ in events:
                            pass

    for _ in range(20):
        await one()
    began = time.process_time()
    for _ in range(turns):
        await one()
    return (time.process_time() - began) * 1000 / turns


PIECE_SIZES = ((10**6, 10**6), (48, 400), (24, 200), (12, 100))  # (reply, rest): 2, 10, 18, 36 pieces


async def _per_piece(llm: object, turns: int, rounds: int, sample: object) -> None:
    import jobs.agent.offline as offline_model

    saved = offline_model.STREAM_CHUNK, offline_model.BULK_CHUNK
    best: dict[tuple[int, int], float] = {}
    pieces: dict[tuple[int, int], int] = {}
    try:
        for _ in range(rounds):
            for sizes in PIECE_SIZES:
                offline_model.STREAM_CHUNK, offline_model.BULK_CHUNK = sizes
                ms, _events = await _cpu_per_turn(llm, turns, warmup=10)
                best[sizes] = min(ms, best.get(sizes, ms))
        for sizes in PIECE_SIZES:
            offline_model.STREAM_CHUNK, offline_model.BULK_CHUNK = sizes
            pieces[sizes] = len(offline_model.pieces(_arguments(sample)))
    finally:
        offline_model.STREAM_CHUNK, offline_model.BULK_CHUNK = saved
    xs, ys = [pieces[s] for s in PIECE_SIZES], [best[s] for s in PIECE_SIZES]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    print(f"offline agent CPU by streamed pieces, best of {rounds} rounds of {turns} turns:")
    for x, y in zip(xs, ys):
        print(f"  {x:3d} pieces  {y:6.2f} ms")
    print(f"  per run {my - slope * mx:5.2f} ms + per piece {slope * 1000:5.1f} us")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=0.0, help="also time offline turns that follow this pause")
    parser.add_argument("--pieces", action="store_true", help="split the offline turn's CPU: per run + per piece")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of the --pieces measurement")
    args = parser.parse_args()

    offline = build_llm(Settings(llm_model="offline"))
    sample = await offline.chat_turn(CONTEXT, RecordingReporter())
    if args.pieces:
        await _per_piece(offline, max(50, args.turns // 2), args.rounds, sample)
        return
    offline_ms, offline_events = await _cpu_per_turn(offline, args.turns)
    floor_ms = await _floor_ms(args.turns)
    cold_ms = (await _cpu_per_turn(offline, min(args.turns, 100), gap_s=args.gap_ms / 1000))[0] if args.gap_ms else None

    with tempfile.TemporaryDirectory() as tmp:
        answer = Path(tmp) / "answer.json"
        answer.write_text(json.dumps(_arguments(sample)))
        stub = subprocess.Popen([sys.executable, "-c", STUB, str(ROOT), str(answer)], stdout=subprocess.PIPE, text=True)
        try:
            url = stub.stdout.readline().strip()  # type: ignore[union-attr]
            os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
            openai = build_llm(Settings(llm_model="openai:gpt-4o-mini", openai_base_url=url))
            openai_ms, openai_events = await _cpu_per_turn(openai, max(50, args.turns // 3))
        finally:
            stub.terminate()
            stub.wait(10)

    print(f"agent CPU per turn, {args.turns} turns after a warm-up (process time of this process):")
    print(f"  offline model                         {offline_ms:6.2f} ms   ({offline_events} events per turn)")
    print(f"  pydantic-ai alone, a run doing nothing{floor_ms:6.2f} ms   (one field, one piece)")
    if cold_ms is not None:
        print(f"  offline model, {args.gap_ms:g} ms pause before each {cold_ms:6.2f} ms   (the same turns, cold)")
    print(f"  OpenAI provider, local stub over HTTP {openai_ms:6.2f} ms   ({openai_events} events per turn)")


if __name__ == "__main__":
    asyncio.run(main())
