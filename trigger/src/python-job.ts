// Runs one task payload through the Python job entry point (the same code inline and ARQ run).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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

export async function runPythonJob(payload: TaskPayload, triggerRunId: string): Promise<JobResult> {
  const dir = await mkdtemp(join(tmpdir(), "campaign-chat-"));
  const file = join(dir, "payload.json");
  try {
    // A file, not an argument: payloads can exceed the kernel's per-argument limit.
    await writeFile(file, JSON.stringify(payload));
    // Deployed, the Python tree sits in the working directory; in `trigger dev` it is one level up.
    const pythonPath = [process.cwd(), resolve(process.cwd(), "..")].join(":");
    const result = await python.run(["-m", "jobs.trigger_entry", file], {
      env: { PYTHONPATH: pythonPath, TRIGGER_RUN_ID: triggerRunId },
      throwOnError: false,
    });
    if (result.exitCode !== 0) {
      throw new Error(`python job exited with ${result.exitCode}: ${result.stderr.slice(-2000)}`);
    }
    const lines = result.stdout.trim().split("\n");
    return JSON.parse(lines[lines.length - 1] ?? "{}") as JobResult;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
