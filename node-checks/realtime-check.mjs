// Drives the real @trigger.dev/sdk against campaign-chat, configured like a frontend: only baseURL + token.
// Prints one JSON object per line (the Python tests read them as they arrive).
//
// Env: BASE_URL, RUN_ID, PUBLIC_TOKEN (the token /turn returned), MODE, TIMEOUT_MS (default 30000)
//   MODE=subscribe  runs.subscribeToRun until the loop ends by itself, then runs.retrieve
//   MODE=streams    subscribeToRun(...).withStreams() until the chat stream's `done` event
//                   (in SDK 4.8.3 that iterator does not end by itself); with UNTIL_FINISHED=1 also
//                   until a run update with finishedAt set has arrived
//   MODE=cancel     runs.cancel with CANCEL_TOKEN (the owner's API key), then subscribe until the end
//   MODE=denied     retrieve/cancel with PUBLIC_TOKEN (a token for another run, or a read-only one)
//   MODE=latency    withStreams; prints every run update and chunk with its arrival time (Date.now() ms),
//                   until both the `done` chunk and the finished run have arrived
import { configure, runs } from "@trigger.dev/sdk";

const baseURL = process.env.BASE_URL;
const runId = process.env.RUN_ID;
const token = process.env.PUBLIC_TOKEN;
const mode = process.env.MODE ?? "subscribe";
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

setTimeout(() => {
  out({ kind: "timeout" });
  process.exit(2);
}, Number(process.env.TIMEOUT_MS ?? 30000));

const runView = (run) => ({
  kind: "run",
  id: run.id,
  status: run.status,
  isCompleted: run.isCompleted,
  isFailed: run.isFailed,
  isCancelled: run.isCancelled,
  startedAt: run.startedAt?.toISOString() ?? null,
  finishedAt: run.finishedAt?.toISOString() ?? null,
  metadata: run.metadata ?? null,
  output: run.output ?? null,
  error: run.error ?? null,
  tags: run.tags,
  streams: run.realtimeStreams,
});

async function subscribe() {
  for await (const run of runs.subscribeToRun(runId)) out(runView(run));
  out({ kind: "ended" });
}

async function retrieve() {
  const r = await runs.retrieve(runId);
  out({ kind: "retrieve", id: r.id, status: r.status, isCompleted: r.isCompleted, isSuccess: r.isSuccess,
        isFailed: r.isFailed, isCancelled: r.isCancelled, output: r.output ?? null, metadata: r.metadata ?? null,
        error: r.error ?? null, finishedAt: r.finishedAt?.toISOString() ?? null, tags: r.tags });
}

async function errorOf(call) {
  try {
    await call();
    return { ok: true };
  } catch (err) {
    return { ok: false, status: err.status ?? null, name: err.constructor?.name, message: String(err.message) };
  }
}

configure({ baseURL, accessToken: token });
if (mode === "subscribe") {
  await subscribe();
  await retrieve();
} else if (mode === "latency") {
  let done = false;
  let finished = false;
  for await (const part of runs.subscribeToRun(runId).withStreams()) {
    if (part.type === "run") {
      out({ ...runView(part.run), at: Date.now() });
      finished = finished || part.run.finishedAt != null;
    } else {
      out({ kind: "chunk", stream: part.type, chunk: part.chunk, at: Date.now() });
      done = done || part.chunk?.type === "done";
    }
    if (done && finished) break;
  }
  out({ kind: "ended" });
} else if (mode === "streams") {
  const untilFinished = process.env.UNTIL_FINISHED === "1";
  let done = false;
  let finished = false;
  for await (const part of runs.subscribeToRun(runId).withStreams()) {
    if (part.type === "run") {
      out(runView(part.run));
      finished = finished || part.run.finishedAt != null;
    } else {
      out({ kind: "chunk", stream: part.type, chunk: part.chunk, at: Date.now() });
      done = done || part.chunk?.type === "done";
    }
    if (done && (finished || !untilFinished)) break;
  }
  out({ kind: "ended" });
} else if (mode === "cancel") {
  out({ kind: "canceling" });
  configure({ baseURL, accessToken: process.env.CANCEL_TOKEN });
  const result = await runs.cancel(runId);
  out({ kind: "canceled", result });
  configure({ baseURL, accessToken: token });
  await subscribe();
  await retrieve();
} else if (mode === "denied") {
  out({ kind: "retrieve-error", ...(await errorOf(() => runs.retrieve(runId))) });
  out({ kind: "cancel-error", ...(await errorOf(() => runs.cancel(runId))) });
} else {
  throw new Error(`unknown MODE ${mode}`);
}
process.exit(0);
