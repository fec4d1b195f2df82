// Runs one task payload through the Python job entry point (the same code inline and ARQ run) and
// forwards what the job reports, line by line as it happens, to this run on Trigger.dev.
//
// The job (`python -m bridge.trigger_task <payload.json>`) prints one JSON object per line on stdout:
//   {"chat": <ChatStreamEvent>}     appended to the run's realtime stream `chat`
//   {"metadata": {key: value, …}}   each key set on the run's metadata, then flushed
//   {"result": {…}}                 the last line: how our database says the run ended (JobResult)
// Its logs go to stderr, which is kept in a file; a job without its result line fails the task with
// stderr's tail.
//
// The Trigger.dev run ends the way a local run of the same turn ends (status, output, error):
//   status COMPLETED_SUCCESSFULLY        the task returns the run's output summary (the run's `output`)
//   any other status                     the task throws RunFailedError: `name` is our error code,
//                                        `message` its message; never retried (runFailurePolicy)
//   status null (nothing for this        the task returns undefined (the run's `output` is empty): a
//   delivery to say: a duplicate)        second delivery must not turn a finished run into a failure
//   no result line (crash, kill, …)      JobFailedError with stderr's tail; retried by the config's
//                                        policy only when the job never reached our run
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logger, metadata, streams } from "@trigger.dev/sdk";
import { python } from "@trigger.dev/python";

/** What campaign-chat's API sends as the trigger payload (core/payloads.py, tagged by `task`). */
export type TaskPayload = {
  task: "framework-chat-turn" | "generate-email-examples";
  run_id: string;
  session_id: string;
  user_id: string;
  input: Record<string, unknown>;
  trace?: Record<string, string> | null;
};

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** How a run ended in our database (core/status.py, RunStatus). */
export type RunStatus =
  | "COMPLETED_SUCCESSFULLY"
  | "COMPLETED_WITH_ERRORS"
  | "CANCELED"
  | "INTERRUPTED"
  | "CRASHED"
  | "SYSTEM_FAILURE"
  | "TIMED_OUT";

/** A run's output summary, as a local run stores it (reply, skeleton_updated, usage, …). */
export type RunOutput = { [key: string]: Json };

/** The job's last line (bridge/trigger_task.py, from jobs.guard.Outcome). */
export type JobResult = {
  ran: boolean;
  /** What our database says the run ended as; null when this delivery had nothing to say about it. */
  status: RunStatus | null;
  /** The run's output summary; set only with COMPLETED_SUCCESSFULLY. */
  output: RunOutput | null;
  /** Why the run did not succeed (code: model_error, timed_out, version_skew, …). */
  error: { code: string; message: string } | null;
};

/** The task's return value: the run's output summary, or undefined when this delivery ran nothing. */
export type TaskOutput = RunOutput | undefined;

/** One ChatStreamEvent (core/events.py): a tagged object, forwarded exactly as the job printed it. */
export type ChatStreamEvent = { type: string; [field: string]: Json };

export type JobLine = { chat: ChatStreamEvent } | { metadata: Record<string, Json> } | { result: JobResult };

// The realtime stream frontends read with `runs.subscribeToRun(runId).withStreams()`: the same `chat`
// stream of the same events that local runs serve. `streams.define(...).pipe()` is SDK 4.5.10's v4
// streams API: one writer per run that sends each event as it is enqueued (v1: one long-lived NDJSON
// POST that resumes after a dropped connection; v2: batches to S2), in order, and that the worker
// waits for before it reports the run complete. `streams.append()` would cost an HTTP request per
// event, and `metadata.stream()` is the deprecated v3 name for the same pipe.
export const chatStream = streams.define<ChatStreamEvent>({ id: "chat" });

const STDERR_TAIL_CHARS = 2000;

/**
 * The run ended in our database without succeeding: thrown to fail the Trigger.dev run the way the
 * local run failed. The worker reports it as a TaskRunError {type: "BUILT_IN_ERROR", name, message,
 * stackTrace}; with `name` = our error code and an empty stack (the failure happened in Python, and a
 * local run's error has an empty stackTrace too), subscribers read the same `run.error` in both worlds.
 */
export class RunFailedError extends Error {
  readonly status: RunStatus;

  constructor(status: RunStatus, code: string, message: string) {
    super(message);
    this.name = code;
    this.status = status;
    this.stack = "";
  }
}

/**
 * The job failed outside the protocol (no result line: an exception, a kill, a crash; or a line the
 * task could not forward). `reachedRun`: the job had printed at least one line, so it had started our
 * run (it prints nothing before that); another attempt would find the run no longer pending.
 */
export class JobFailedError extends Error {
  readonly reachedRun: boolean;

  constructor(message: string, reachedRun: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.reachedRun = reachedRun;
  }
}

/**
 * The tasks' `catchError` hook (SDK 4.5.10: TaskExecutor asks it before applying the retry policy).
 * `{ skipRetrying: true }` makes the worker complete the attempt with `retry` unset and
 * `skippedRetrying: true`, which Trigger.dev's run engine turns into a failed run
 * (COMPLETED_WITH_ERRORS) with the error as thrown.
 *  - RunFailedError: never retried; the run has ended in our database, another attempt would only
 *    find it not pending (and end the Trigger.dev run COMPLETED, hiding the failure).
 *  - JobFailedError once the job reached our run: not retried, for the same reason (our run is left to
 *    the lease reaper, which ends it and frees the session).
 *  - Anything else (the job failed before it touched our run: database unreachable, a broken
 *    environment, …): undefined, so trigger.config.ts's policy applies; the run is still pending in our
 *    database, and another attempt really runs it.
 * AbortTaskRunError cannot serve here: the worker reports it under its own name, not our code.
 */
export function runFailurePolicy({ error }: { error: unknown }): { skipRetrying: true } | undefined {
  if (error instanceof RunFailedError) return { skipRetrying: true };
  if (error instanceof JobFailedError && error.reachedRun) return { skipRetrying: true };
  return undefined;
}

/** What the task returns for the job's result, or the error it fails with. */
export function taskOutcome(result: JobResult): TaskOutput {
  if (result.status === null) return undefined;
  if (result.status === "COMPLETED_SUCCESSFULLY") return result.output ?? undefined;
  const error = result.error ?? { code: "run_failed", message: `the run ended ${result.status}` };
  throw new RunFailedError(result.status, error.code, error.message);
}

/** A stdout line as the protocol defines it, or undefined for anything else (a stray print). */
export function parseJobLine(raw: string): JobLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const body = (value as Record<string, unknown>)[keys[0]!];
  const isObject = typeof body === "object" && body !== null && !Array.isArray(body);
  if (keys[0] === "chat" && isObject && typeof (body as { type?: unknown }).type === "string") {
    return value as JobLine;
  }
  if (keys[0] === "metadata" && isObject) return value as JobLine;
  if (keys[0] === "result" && isObject && isJobResult(body)) return value as JobLine;
  return undefined;
}

function isJobResult(body: object): body is JobResult {
  const { ran, status, output, error } = body as Record<string, unknown>;
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  return (
    typeof ran === "boolean" &&
    (status === null || typeof status === "string") &&
    (output === null || isObject(output)) &&
    (error === null ||
      (isObject(error) &&
        typeof (error as { code?: unknown }).code === "string" &&
        typeof (error as { message?: unknown }).message === "string"))
  );
}

/** Feeds events into the run's `chat` stream; the stream (and its writer) starts with the first event. */
class ChatForwarder {
  private controller: ReadableStreamDefaultController<ChatStreamEvent> | undefined;
  private sent: Promise<unknown> | undefined;

  push(event: ChatStreamEvent): void {
    if (this.controller === undefined) {
      let controller!: ReadableStreamDefaultController<ChatStreamEvent>;
      const source = new ReadableStream<ChatStreamEvent>({
        start(c) {
          controller = c;
        },
      });
      this.controller = controller;
      this.sent = chatStream.pipe(source).waitUntilComplete();
    }
    this.controller.enqueue(event);
  }

  /** Ends the stream and waits until every event reached Trigger.dev. Never throws: a lost progress
   *  report must not fail a turn that ran (the outcome is in the database either way). */
  async close(): Promise<void> {
    if (this.controller === undefined) return;
    try {
      this.controller.close();
    } catch {
      // already closed
    }
    try {
      await this.sent;
    } catch (error) {
      logger.error("the chat stream could not be delivered completely", { error: String(error) });
    }
  }
}

async function tail(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf-8")).slice(-STDERR_TAIL_CHARS);
  } catch {
    return "";
  }
}

/** Runs the job for this payload, forwarding its lines; its result line (see taskOutcome). Throws
 *  JobFailedError when the job fails outside the protocol. */
export async function runPythonJob(payload: TaskPayload, triggerRunId: string): Promise<JobResult> {
  const dir = await mkdtemp(join(tmpdir(), "campaign-chat-"));
  const file = join(dir, "payload.json");
  const stderrPath = join(dir, "stderr.log");
  const stderr = openSync(stderrPath, "w");
  const chat = new ChatForwarder();
  let result: JobResult | undefined;
  let reachedRun = false; // a protocol line arrived: the job has started (or ended) our run
  try {
    // A file, not an argument: payloads can exceed the kernel's per-argument limit.
    await writeFile(file, JSON.stringify(payload));
    // The Python packages sit in the working directory: the deployed image's, and the build
    // directory `trigger dev` runs tasks from (the extension copies them into both).
    const lines = python.stream.run(["-m", "bridge.trigger_task", file], {
      env: { PYTHONPATH: process.cwd(), TRIGGER_RUN_ID: triggerRunId },
      // stdout is the protocol; stderr goes to a file so log lines can never interleave with it.
      nodeOptions: { stdio: ["ignore", "pipe", stderr] },
    });
    for await (const raw of lines) {
      const line = parseJobLine(raw);
      if (line === undefined) {
        logger.warn("python job printed a line outside the protocol", { line: raw.slice(0, 500) });
        continue;
      }
      reachedRun = true;
      if (result !== undefined) {
        throw new JobFailedError(`python job printed after its result line: ${raw.slice(0, 200)}`, true);
      } else if ("chat" in line) {
        chat.push(line.chat);
      } else if ("metadata" in line) {
        for (const [key, value] of Object.entries(line.metadata)) metadata.set(key, value);
        await metadata.flush();
      } else {
        result = line.result;
      }
    }
    // python.stream.run never reports the exit status (@trigger.dev/python 4.5.10 hides the process),
    // so the job prints its result line only once everything is closed, right before exiting 0:
    // no result line means the job failed (an exception, a kill, a crash).
    if (result === undefined) {
      throw new JobFailedError(
        `python job failed (it exited without its result line); stderr:\n${await tail(stderrPath)}`,
        reachedRun,
      );
    }
    logger.debug("python job stderr", { tail: await tail(stderrPath) });
    return result;
  } catch (error) {
    if (error instanceof JobFailedError || !reachedRun) throw error;
    // Forwarding failed once the job had reached our run (e.g. a metadata flush): not to be retried.
    throw new JobFailedError(`forwarding the python job's lines failed: ${String(error)}`, true, { cause: error });
  } finally {
    await chat.close();
    closeSync(stderr);
    await rm(dir, { recursive: true, force: true });
  }
}
