// Mutation testing (`npm run mutation`, not part of CI): would the tests notice a bug in the domain code?
// Only test/domain runs (vitest.mutation.config.ts): the domain code makes no AWS calls, so its own tests should
// catch a change in it, and they run in seconds. The step handlers' tests (test/steps) start a sandbox per file, which
// under Stryker costs seconds per mutant; end-to-end tests run step code inside the sandbox's Lambda workers, where
// Stryker cannot switch mutants at all. Results: bench/results/ (see bench/mutation-summary.ts).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts" },
  plugins: ["@stryker-mutator/vitest-runner"],
  mutate: ["steps/domain/**/*.ts", "iam-policy/**/*.ts"],
  coverageAnalysis: "perTest",
  // The machine running this is shared; one worker keeps it usable, and the domain tests are quick.
  concurrency: 1,
  // Domain tests take milliseconds; a mutant that loops should not hold the one worker for long.
  timeoutMS: 5_000,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "bench/results/mutation.json" },
  // No incremental mode: tried here, it kept a file's survivors after a new test file covering them was added.
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
