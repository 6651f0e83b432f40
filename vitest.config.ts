import { defineConfig } from "vitest/config";

/** Tests of pure code and of single steps: no sandbox of their own outlives a file, so files may share a worker. */
const SHARED_WORKER = [
  "test/domain/**/*.test.ts",
  "test/steps/**/*.test.ts",
  "test/workflow/**/*.test.ts",
  "test/architecture/**/*.test.ts",
  "test/infra/**/*.test.ts",
];

export default defineConfig({
  test: {
    setupFiles: ["./sandbox/stepfunctions/node20-polyfill.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most end-to-end files spend their time waiting on the sandbox's Wait states and job polls, not on the CPU: one
    // worker more than the two cores keeps both busy.
    maxWorkers: 3,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    projects: [
      {
        extends: true,
        // Importing the SDK, the steps and CDK once per worker rather than once per file halves these files' CPU
        // time. The end-to-end files stay isolated: they run the sandbox's Lambda functions and step bundles, whose
        // module-level state one file would leave to the next.
        test: { name: "shared-worker", include: SHARED_WORKER, isolate: false },
      },
      {
        extends: true,
        test: {
          name: "isolated",
          include: [
            "test/**/*.test.ts",
            "sandbox/**/*.test.ts",
            "steps/**/*.test.ts",
            "cli/**/*.test.ts",
            "workflow/**/*.test.ts",
          ],
          exclude: SHARED_WORKER,
        },
      },
    ],
  },
});
