// The two tasks campaign-chat triggers (POST /api/v1/tasks/{id}/trigger with a plain JSON payload).
// Each run ends as the local run of the same task ends: the run's output summary when it succeeded,
// failed with our error code (never retried) when it did not; see python-job.ts.
import { task } from "@trigger.dev/sdk";
import { runFailurePolicy, runPythonJob, taskOutcome, type TaskOutput, type TaskPayload } from "./python-job.js";

function expect(payload: TaskPayload, taskId: TaskPayload["task"]): TaskPayload {
  if (payload?.task !== taskId || typeof payload.run_id !== "string") {
    throw new Error(`payload is not a ${taskId} payload from campaign-chat`);
  }
  return payload;
}

export const frameworkChatTurn = task({
  id: "framework-chat-turn",
  catchError: runFailurePolicy,
  run: async (payload: TaskPayload, { ctx }): Promise<TaskOutput> =>
    taskOutcome(await runPythonJob(expect(payload, "framework-chat-turn"), ctx.run.id)),
});

export const generateEmailExamples = task({
  id: "generate-email-examples",
  catchError: runFailurePolicy,
  run: async (payload: TaskPayload, { ctx }): Promise<TaskOutput> =>
    taskOutcome(await runPythonJob(expect(payload, "generate-email-examples"), ctx.run.id)),
});
