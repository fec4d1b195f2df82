// Trigger.dev project for campaign-chat. Deploy from this directory: `npx trigger.dev@4.5.10 deploy`.
// Both tasks run the service's Python job code (bridge/trigger_task.py → jobs.entry.execute), which
// the python build extension copies into the image ("../x" lands at "x") with its locked requirements
// (trigger/requirements.txt, exported from uv.lock with the `otel` extra).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig } from "@trigger.dev/sdk";
import { pythonExtension } from "@trigger.dev/python/extension";

/** Files the Python packages read at run time besides their modules (Alembic's template, the API contract). */
export const PYTHON_DATA_FILES = ["store/migrations/script.py.mako", "contracts/openapi.yaml"];

/**
 * The package list of the wheel (`[tool.hatch.build.targets.wheel] packages` in pyproject.toml), the one
 * list the Dockerfile follows too, so moving or adding a Python package needs no change here.
 */
export function pythonPackages(pyprojectPath: string): string[] {
  const text = readFileSync(pyprojectPath, "utf-8");
  const header = text.search(/^\[tool\.hatch\.build\.targets\.wheel\][ \t]*$/m);
  if (header < 0) {
    throw new Error(`${pyprojectPath} has no [tool.hatch.build.targets.wheel] table`);
  }
  const rest = text.slice(header).split("\n").slice(1).join("\n");
  const end = rest.search(/^\[/m);
  const table = end < 0 ? rest : rest.slice(0, end);
  const list = /^packages[ \t]*=[ \t]*\[([^\]]*)\]/m.exec(table);
  const names = list ? [...list[1]!.matchAll(/"([^"]+)"|'([^']+)'/g)].map((m) => m[1] ?? m[2]!) : [];
  if (names.length === 0) {
    throw new Error(`${pyprojectPath}: [tool.hatch.build.targets.wheel] lists no packages`);
  }
  return names;
}

/** The extension's globs, relative to this directory (the CLI's working directory). */
export function pythonScripts(workingDir: string = process.cwd()): string[] {
  const packages = pythonPackages(resolve(workingDir, "..", "pyproject.toml"));
  return [...packages.map((name) => `../${name}/**/*.py`), ...PYTHON_DATA_FILES.map((file) => `../${file}`)];
}

export default defineConfig({
  project: process.env.TRIGGER_PROJECT_REF ?? "proj_campaign_chat",
  dirs: ["./src"],
  runtime: "node",
  logLevel: "info",
  // Our own deadline (CAMPAIGN_CHAT_JOB_TIMEOUT_SECONDS, 240 s by default) ends a turn first.
  maxDuration: 300,
  retries: {
    enabledInDev: false,
    // Applies only to a job that failed before it reached our run (the tasks' catchError,
    // runFailurePolicy in src/python-job.ts, skips retrying otherwise): once the turn started, a retried
    // attempt would only find the run no longer PENDING in our database.
    default: { maxAttempts: 2, minTimeoutInMs: 1000, maxTimeoutInMs: 10000, factor: 2 },
  },
  // The CLI strips `build` from the config it bundles into the worker, so the checkout (pyproject.toml)
  // is only read at build time, never inside the deployed image.
  build: {
    extensions: [
      pythonExtension({
        requirementsFile: "./requirements.txt",
        scripts: pythonScripts(),
      }),
    ],
  },
});
