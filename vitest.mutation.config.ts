import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

/**
 * The domain tests, where Stryker can switch mutants in-process (stryker.config.mjs). Stryker reruns the covering
 * test files once per mutant; without isolation the worker keeps its loaded modules between runs instead of paying
 * the import again each time (the domain is pure, so tests share no state through modules).
 */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/domain/**/*.test.ts"], isolate: false },
});
