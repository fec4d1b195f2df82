// Runs one attempt of one run of OUR task code (src/tasks.ts, compiled) on SDK 4.5.10 under plain Node,
// the way Trigger.dev's deployed worker does (trigger.dev CLI, entryPoints/managed-run-worker.ts,
// together with the run controller that drives it): the same public managers from @trigger.dev/core
// (API client from the environment, metadata and realtime-streams managers, task context, waitUntil,
// OpenTelemetry task logger), TaskExecutor to call the task, and the workload API to start and
// complete the attempt. Used by the test suite against a fake Trigger.dev; not deployed (the CLI only
// bundles what `dirs: ["./src"]` reaches).
//
// Environment (what the run controller hands its worker):
//   TRIGGER_API_URL, TRIGGER_SECRET_KEY     platform API (metadata, streams) and its key
//   TRIGGER_WORKER_API_URL                  workload API (attempt start/complete)
//   TRIGGER_RUN_ID, TRIGGER_SNAPSHOT_ID     the run to execute
//   TRIGGER_DEPLOYMENT_ID, TRIGGER_DEPLOYMENT_VERSION, TRIGGER_PROJECT_REF, TRIGGER_RUNNER_ID
//   TRIGGER_PROJECT_DIR                     trigger/ (the compiled config is imported from there, as the
//                                           CLI imports it; the deployed worker imports a copy with its
//                                           `build` section stripped)
// The working directory is the deploy bundle, as in the image. The task's own environment variables
// (DATABASE_URL, PYTHON_BIN_PATH, ...) arrive with the attempt, as on Trigger.dev.
import {
  OTEL_LOG_ATTRIBUTE_COUNT_LIMIT,
  TaskRunContext,
  TaskRunErrorCodes,
  apiClientManager,
  clock,
  lifecycleHooks,
  localsAPI,
  logger,
  realtimeStreams,
  resourceCatalog,
  runMetadata,
  runTimelineMetrics,
  taskContext,
  traceContext,
  waitUntil,
  type TaskRunExecutionResult,
  type TriggerConfig,
} from "@trigger.dev/core/v3";
import { TriggerTracer } from "@trigger.dev/core/v3/tracer";
import {
  ConsoleInterceptor,
  DurableClock,
  OtelTaskLogger,
  StandardLifecycleHooksManager,
  StandardLocalsManager,
  StandardMetadataManager,
  StandardRealtimeStreamsManager,
  StandardResourceCatalog,
  StandardRunTimelineMetricsManager,
  StandardTraceContextManager,
  StandardWaitUntilManager,
  TaskExecutor,
  TracingSDK,
  WorkloadHttpClient,
  populateEnv,
} from "@trigger.dev/core/v3/workers";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`run-worker: ${name} is not set`);
  return value;
}

const runId = required("TRIGGER_RUN_ID");
const snapshotId = required("TRIGGER_SNAPSHOT_ID");
const projectDir = required("TRIGGER_PROJECT_DIR");
const apiUrl = required("TRIGGER_API_URL");
required("TRIGGER_SECRET_KEY");

// The managers the deployed worker installs before it receives a run.
localsAPI.setGlobalLocalsManager(new StandardLocalsManager());
lifecycleHooks.setGlobalLifecycleHooksManager(new StandardLifecycleHooksManager());
runTimelineMetrics.setGlobalManager(new StandardRunTimelineMetricsManager());
const catalog = new StandardResourceCatalog();
resourceCatalog.setGlobalResourceCatalog(catalog);
clock.setGlobalClock(new DurableClock());
traceContext.setGlobalManager(new StandardTraceContextManager());
const metadataManager = new StandardMetadataManager(apiClientManager.clientOrThrow());
runMetadata.setGlobalManager(metadataManager);
const streamsManager = new StandardRealtimeStreamsManager(
  apiClientManager.clientOrThrow(),
  process.env.TRIGGER_STREAM_URL ?? apiUrl,
  false,
);
realtimeStreams.setGlobalManager(streamsManager);
const waitUntilManager = new StandardWaitUntilManager(60_000);
waitUntil.setGlobalManager(waitUntilManager);
// As resetExecutionEnvironment(): the attempt completes only once every realtime stream is sent.
waitUntil.register({
  requiresResolving: () => streamsManager.hasActiveStreams(),
  promise: (timeoutInMs) => streamsManager.waitForAllStreams(timeoutInMs),
});

const workload = new WorkloadHttpClient({
  workerApiUrl: required("TRIGGER_WORKER_API_URL"),
  runnerId: process.env.TRIGGER_RUNNER_ID ?? "runner-harness",
  deploymentId: required("TRIGGER_DEPLOYMENT_ID"),
  deploymentVersion: process.env.TRIGGER_DEPLOYMENT_VERSION ?? "0.0.0",
  projectRef: process.env.TRIGGER_PROJECT_REF ?? "proj_campaign_chat",
});

async function complete(completion: TaskRunExecutionResult): Promise<void> {
  const answer = await workload.completeRunAttempt(runId, snapshotId, { completion });
  if (!answer.success) throw new Error(`completing the attempt failed: ${answer.error}`);
}

async function importConfig(): Promise<TriggerConfig> {
  const bundleDir = process.cwd();
  process.chdir(projectDir);
  try {
    const module = await import(new URL("../trigger.config.js", import.meta.url).href);
    return module.default as TriggerConfig;
  } finally {
    process.chdir(bundleDir);
  }
}

async function main(): Promise<void> {
  const started = await workload.startRunAttempt(runId, snapshotId, { isWarmStart: false });
  if (!started.success) throw new Error(`starting the attempt failed: ${started.error}`);
  const { execution, envVars } = started.data;
  populateEnv(envVars, { override: true });

  const ctx = TaskRunContext.parse(execution);
  taskContext.setGlobalTaskContext({
    ctx,
    worker: { id: "worker-harness", version: ctx.deployment?.version ?? "0.0.0", contentHash: "harness", engine: "V2" },
    isWarmStart: false,
  });

  try {
    const config = await importConfig();
    const tracingSDK = new TracingSDK({
      url: process.env.TRIGGER_OTEL_EXPORTER_OTLP_ENDPOINT ?? `${apiUrl}/otel`,
      forceFlushTimeoutMillis: 10_000,
      diagLogLevel: "none",
    });
    const otelLogger = tracingSDK.getLogger("trigger-dev-worker", "harness");
    const tracer = new TriggerTracer({ tracer: tracingSDK.getTracer("trigger-dev-worker", "harness"), logger: otelLogger });
    const consoleInterceptor = new ConsoleInterceptor(otelLogger, true, false, OTEL_LOG_ATTRIBUTE_COUNT_LIMIT);
    logger.setGlobalTaskLogger(
      new OtelTaskLogger({ logger: otelLogger, tracer, level: config.logLevel ?? "info", maxAttributeCount: OTEL_LOG_ATTRIBUTE_COUNT_LIMIT }),
    );

    catalog.setCurrentFileContext("src/tasks.ts", "src/tasks.ts");
    await import(new URL("../src/tasks.js", import.meta.url).href);
    catalog.clearCurrentFileContext();
    const task = resourceCatalog.getTask(execution.task.id);
    if (!task) {
      await complete({
        ok: false,
        id: execution.run.id,
        error: { type: "INTERNAL_ERROR", code: TaskRunErrorCodes.COULD_NOT_FIND_TASK },
        flushedMetadata: await metadataManager.stopAndReturnLastFlush(),
      });
      return;
    }

    metadataManager.runId = execution.run.id;
    metadataManager.runIdIsRoot = execution.run.rootTaskRunId === undefined;
    metadataManager.startPeriodicFlush(1000);
    const executor = new TaskExecutor(task, { tracer, tracingSDK, consoleInterceptor, retries: config.retries });
    const startedAt = performance.now();
    const { result } = await executor.execute(execution, ctx, new AbortController().signal);
    await complete({
      ...result,
      usage: { durationMs: Math.round(performance.now() - startedAt) },
      flushedMetadata: await metadataManager.stopAndReturnLastFlush(),
    });
    await tracingSDK.flush();
  } catch (error) {
    await complete({
      ok: false,
      id: execution.run.id,
      error: {
        type: "INTERNAL_ERROR",
        code: TaskRunErrorCodes.CONFIGURED_INCORRECTLY,
        message: error instanceof Error ? error.message : String(error),
        stackTrace: error instanceof Error ? error.stack : undefined,
      },
      flushedMetadata: await metadataManager.stopAndReturnLastFlush(),
    });
    throw error;
  }
}

try {
  await main();
  process.exit(0);
} catch (error) {
  console.error("run-worker:", error);
  process.exit(1);
}
