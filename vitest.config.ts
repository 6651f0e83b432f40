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
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
