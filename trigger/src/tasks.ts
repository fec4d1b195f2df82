// The two tasks campaign-chat triggers (POST /api/v1/tasks/{id}/trigger with a plain JSON payload).
import { task } from "@trigger.dev/sdk";
import { runPythonJob, type TaskPayload } from "./python-job.js";

function expect(payload: TaskPayload, taskId: TaskPayload["task"]): TaskPayload {
  if (payload?.task !== taskId || typeof payload.run_id !== "string") {
    throw new Error(`payload is not a ${taskId} payload from campaign-chat`);
  }
  return payload;
}

export const frameworkChatTurn = task({
  id: "framework-chat-turn",
  run: async (payload: TaskPayload, { ctx }) => runPythonJob(expect(payload, "framework-chat-turn"), ctx.run.id),
});

export const generateEmailExamples = task({
  id: "generate-email-examples",
  run: async (payload: TaskPayload, { ctx }) => runPythonJob(expect(payload, "generate-email-examples"), ctx.run.id),
});
