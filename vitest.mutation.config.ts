import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

/** The tests that run step and domain code in-process, where Stryker can switch mutants (stryker.config.mjs). */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/domain/**/*.test.ts", "test/steps/**/*.test.ts"] },
});
