// Mutation testing (`npm run mutation`, not part of CI): would the tests notice a bug in the domain code or a step
// handler? The step handlers' own tests call them in-process (test/steps); end-to-end tests run step code inside
// the sandbox's Lambda workers, where Stryker cannot switch mutants, so they are left out here.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  plugins: ["@stryker-mutator/vitest-runner"],
  mutate: ["steps/domain/**/*.ts", "steps/handlers/**/*.ts"],
  coverageAnalysis: "perTest",
  concurrency: 2,
  timeoutMS: 20_000,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "bench/results/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
