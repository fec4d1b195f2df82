// Trigger.dev project for campaign-chat. Deploy from this directory: `npx trigger.dev@4.5.10 deploy`.
// Both tasks run the service's Python job code (jobs/trigger_entry.py → jobs.entry.execute), which
// the python build extension copies into the image ("../x" lands at "x") with its locked requirements.
import { defineConfig } from "@trigger.dev/sdk";
import { pythonExtension } from "@trigger.dev/python/extension";

export default defineConfig({
  project: process.env.TRIGGER_PROJECT_REF ?? "proj_campaign_chat",
  dirs: ["./src"],
  runtime: "node",
  logLevel: "info",
  // Our own deadline (CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS, 240 s by default) ends a turn first.
  maxDuration: 300,
  retries: {
    enabledInDev: false,
    // A retried attempt is a no-op once the turn started (the run is no longer PENDING in our database).
    default: { maxAttempts: 2, minTimeoutInMs: 1000, maxTimeoutInMs: 10000, factor: 2 },
  },
  build: {
    extensions: [
      pythonExtension({
        requirementsFile: "./requirements.txt",
        scripts: [
          "../api/**/*.py",
          "../bridge/**/*.py",
          "../core/**/*.py",
          "../jobs/**/*.py",
          "../services/**/*.py",
          "../store/**/*.py",
          "../store/migrations/script.py.mako",
          "../contracts/openapi.yaml",
        ],
      }),
    ],
  },
});
