import { createRequire } from "node:module";
import { cruise, type IReporterOutput } from "dependency-cruiser";
import { describe, expect, it } from "vitest";

const require = createRequire(import.meta.url);
const ROOTS = ["contract", "workflow", "steps", "cli", "infra", "local", "sandbox", "bench"];

async function violations(ruleSet: object): Promise<string[]> {
  const result: IReporterOutput = await cruise(ROOTS, {
    validate: true,
    ruleSet,
    ...require("../../.dependency-cruiser.cjs").options,
  } as never);
  const output = result.output as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe("the direction of imports (.dependency-cruiser.cjs, ARCHITECTURE.md)", () => {
  it("holds across the tree", async () => {
    const config = require("../../.dependency-cruiser.cjs");
    expect(await violations({ forbidden: config.forbidden })).toEqual([]);
  });

  it("would notice a sandbox file importing rekey's steps", async () => {
    // The same rules, applied to a tree where the sandbox imports the product, must report it: the check can fail.
    const config = require("../../.dependency-cruiser.cjs");
    const found = await violationsIn("test/architecture/fixtures", config.forbidden);
    expect(found).toContain("sandbox-knows-no-rekey: sandbox/leaky.ts → steps/step.ts");
    expect(found).toContain("contract-imports-nothing: contract/leaky.ts → steps/step.ts");
  });
});

async function violationsIn(base: string, forbidden: object[]): Promise<string[]> {
  const result: IReporterOutput = await cruise(["contract", "sandbox", "steps"], {
    validate: true,
    ruleSet: { forbidden },
    baseDir: base,
    tsPreCompilationDeps: true,
  } as never);
  const output = result.output as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } };
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}
