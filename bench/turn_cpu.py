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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=0.0, help="also time offline turns that follow this pause")
    args = parser.parse_args()

    offline = build_llm(Settings(llm_model="offline"))
    sample = await offline.chat_turn(CONTEXT, RecordingReporter())
    offline_ms, offline_events = await _cpu_per_turn(offline, args.turns)
    cold_ms = (await _cpu_per_turn(offline, min(args.turns, 100), gap_s=args.gap_ms / 1000))[0] if args.gap_ms else None

    with tempfile.TemporaryDirectory() as tmp:
        answer = Path(tmp) / "answer.json"
        answer.write_text(json.dumps({"reply": sample.reply, "skeleton": sample.skeleton,
                                      "draft_subject": sample.draft_subject, "draft_body": sample.draft_body}))
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
    if cold_ms is not None:
        print(f"  offline model, {args.gap_ms:g} ms pause before each {cold_ms:6.2f} ms   (the same turns, cold)")
    print(f"  OpenAI provider, local stub over HTTP {openai_ms:6.2f} ms   ({openai_events} events per turn)")


if __name__ == "__main__":
    asyncio.run(main())
