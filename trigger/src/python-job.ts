// Runs one task payload through the Python job entry point (the same code inline and ARQ run) and
// forwards what the job reports, line by line as it happens, to this run on Trigger.dev.
//
// The job (`python -m jobs.trigger_entry <payload.json>`) prints one JSON object per line on stdout:
//   {"chat": <ChatStreamEvent>}     appended to the run's realtime stream `chat`
//   {"metadata": {key: value, …}}   each key set on the run's metadata, then flushed
//   {"result": {"ran": bool}}       the last line: the task's return value
// Its logs go to stderr, which is kept in a file; a failed job fails the task with stderr's tail.
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

export type JobResult = { ran: boolean };

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

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
  if (keys[0] === "result" && isObject && typeof (body as { ran?: unknown }).ran === "boolean") {
    return value as JobLine;
  }
  return undefined;
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

export async function runPythonJob(payload: TaskPayload, triggerRunId: string): Promise<JobResult> {
  const dir = await mkdtemp(join(tmpdir(), "campaign-chat-"));
  const file = join(dir, "payload.json");
  const stderrPath = join(dir, "stderr.log");
  const stderr = openSync(stderrPath, "w");
  const chat = new ChatForwarder();
  let result: JobResult | undefined;
  try {
    // A file, not an argument: payloads can exceed the kernel's per-argument limit.
    await writeFile(file, JSON.stringify(payload));
    // The Python packages sit in the working directory: the deployed image's, and the build
    // directory `trigger dev` runs tasks from (the extension copies them into both).
    const lines = python.stream.run(["-m", "jobs.trigger_entry", file], {
      env: { PYTHONPATH: process.cwd(), TRIGGER_RUN_ID: triggerRunId },
      // stdout is the protocol; stderr goes to a file so log lines can never interleave with it.
      nodeOptions: { stdio: ["ignore", "pipe", stderr] },
    });
    for await (const raw of lines) {
      const line = parseJobLine(raw);
      if (line === undefined) {
        logger.warn("python job printed a line outside the protocol", { line: raw.slice(0, 500) });
      } else if (result !== undefined) {
        throw new Error(`python job printed after its result line: ${raw.slice(0, 200)}`);
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
      throw new Error(`python job failed (it exited without its result line); stderr:\n${await tail(stderrPath)}`);
    }
    logger.debug("python job stderr", { tail: await tail(stderrPath) });
    return result;
  } finally {
    await chat.close();
    closeSync(stderr);
    await rm(dir, { recursive: true, force: true });
  }
}
