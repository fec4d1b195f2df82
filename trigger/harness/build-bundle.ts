// Builds the Python part of the deploy bundle with the extension's own build code, outside the CLI.
//
//   node <compiled>/harness/build-bundle.js <empty output folder>     (working directory: trigger/)
//
// Imports the real trigger.config (compiled by tsc), takes the pythonExtension instance from
// `config.build.extensions` and calls its `onBuildComplete(context, manifest)` the way `trigger.dev
// deploy` does after bundling the tasks: target "deploy", this directory as the working directory,
// `manifest.outputPath` = the output folder. The extension copies its globs there (via
// @trigger.dev/build's addAdditionalFilesToBuild) and adds its image layers, which are printed as
// one JSON object on stdout: {"layers": [...], "warnings": [...]}.
// Not part of the deployment: the CLI only bundles what `dirs: ["./src"]` reaches.
import type { BuildContext, BuildLayer, BuildManifest, ResolvedConfig } from "@trigger.dev/build";
import config from "../trigger.config.js";

const outputPath = process.argv[2];
if (!outputPath) {
  throw new Error("usage: build-bundle.js <output folder>");
}
const extension = (config.build?.extensions ?? []).find((candidate) => candidate.name === "PythonExtension");
if (!extension?.onBuildComplete) {
  throw new Error("trigger.config has no pythonExtension in build.extensions");
}

const layers: BuildLayer[] = [];
const warnings: string[] = [];
const text = (args: unknown[]) => args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" ");
const workingDir = process.cwd();
const context: BuildContext = {
  target: "deploy",
  config: { ...config, workingDir } as unknown as ResolvedConfig,
  workingDir,
  logger: {
    debug: () => undefined,
    log: () => undefined,
    warn: (...args: unknown[]) => {
      warnings.push(text(args));
    },
    progress: () => undefined,
    spinner: () => ({ stop: () => undefined, message: () => undefined }),
  },
  addLayer: (layer) => {
    layers.push(layer);
  },
  registerPlugin: () => {
    throw new Error("the python extension registered an esbuild plugin; this builder does not run esbuild");
  },
  resolvePath: async () => undefined,
};

await extension.onBuildComplete(context, { outputPath } as unknown as BuildManifest);
process.stdout.write(JSON.stringify({ layers, warnings }) + "\n");
