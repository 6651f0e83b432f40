import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/**/*.test.ts",
      "sandbox/**/*.test.ts",
      "steps/**/*.test.ts",
      "cli/**/*.test.ts",
      "workflow/**/*.test.ts",
    ],
    setupFiles: ["./sandbox/stepfunctions/node20-polyfill.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most end-to-end files spend their time waiting on the sandbox's Wait states and job polls, not on the CPU: one
    // worker more than the two cores keeps both busy.
    maxWorkers: 3,
    // Files share a worker process, which imports the SDK, the sandbox and the steps once rather than once per file:
    // a fresh process per file cost a quarter of the suite's CPU time. Nothing a file leaves behind reaches the next:
    // each sandbox is an object of its own, closed by the file that started it; Lambda functions run in worker threads
    // with their own modules; no test mocks a module or changes the environment another file reads.
    isolate: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
