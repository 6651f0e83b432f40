/**
 * Takes docs/console.png: the sandbox console (sandbox/console/) during a run like `rekey demo`'s, while the Batch
 * Operations jobs copy. Needs Debian's chromium (scripts/install-browser.sh).
 *
 *   npx tsx scripts/console-screenshot.ts [--out docs/console.png] [--objects 1000] [--tasks-per-second 60]
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { StateNames } from "../contract/states.ts";
import { rekeyClients } from "../local/sandbox-clients.ts";
import { rekeyDeployment, startSandboxExecution } from "../local/sandbox-run.ts";
import { seedMixedBucket } from "../local/scenarios/mixed-bucket.ts";
import { SandboxAdmin } from "../sandbox/admin-client.ts";
import { startSandbox } from "../sandbox/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const VIEWPORT = { width: 1440, height: 900 };

const { values } = parseArgs({
  options: {
    out: { type: "string", default: "docs/console.png" },
    objects: { type: "string", default: "1000" },
    "tasks-per-second": { type: "string", default: "60" },
  },
});
const objects = Number(values.objects);
const tasksPerSecond = Number(values["tasks-per-second"]);
if (!Number.isInteger(objects) || objects < 1 || !(tasksPerSecond > 0)) {
  throw new Error("--objects takes a whole number above 0, --tasks-per-second a number above 0");
}
if (!existsSync(CHROMIUM)) throw new Error(`No browser at ${CHROMIUM}: run scripts/install-browser.sh first.`);

const sandbox = await startSandbox({ batchTasksPerSecond: tasksPerSecond });
const browser = await chromium.launch({ executablePath: CHROMIUM });
try {
  const clients = rekeyClients(sandbox);
  const admin = new SandboxAdmin(sandbox.endpoint);
  await rekeyDeployment(sandbox);
  const scenario = await seedMixedBucket(clients, admin, {
    bucket: "rekey-demo-data",
    workBucket: "rekey-demo-work",
    objects,
  });
  const page = await browser.newPage({ viewport: VIEWPORT });
  await page.goto(`${sandbox.endpoint}/_sandbox/console/`);

  let delivery: Promise<unknown> | undefined;
  const execution = startSandboxExecution({
    sandbox,
    name: `rekey-demo-data-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}`,
    input: {
      bucket: scenario.bucket,
      kmsKeyArn: scenario.targetKeyArn,
      inventoryConfigurationId: scenario.inventoryConfigurationId,
      workBucket: scenario.workBucket,
      options: { inventoryPollSeconds: 1, jobPollMinSeconds: 1, jobPollMaxSeconds: 2 },
    },
    // As `rekey demo` does: S3 delivers the inventory as soon as the run waits for one.
    onEvent: (event) => {
      if (event.type === "StateEntered" && event.state.name === StateNames.waitForInventory) {
        delivery ??= admin.deliverInventory({
          bucket: scenario.bucket,
          configurationId: scenario.inventoryConfigurationId,
        });
      }
    },
  });

  // The moment worth showing: the run waiting on its jobs, some done and one part way, the page caught up with it.
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error("The run never showed a job part way through.");
    const jobs = await page.getByTestId("job-row").evaluateAll((rows) =>
      rows.map((r) => ({
        status: r.getAttribute("data-status"),
        share: Number(r.getAttribute("data-succeeded")) / Number(r.getAttribute("data-total")),
      })),
    );
    const partWay = jobs.some((j) => j.status === "Active" && j.share > 0.25 && j.share < 0.75);
    const someDone = jobs.some((j) => j.status === "Complete");
    const current = await page.getByTestId("current-state").textContent();
    if (partWay && someDone && (current === StateNames.checkCopyJobs || current === StateNames.waitForJobs)) break;
    await page.waitForTimeout(100);
  }
  mkdirSync(dirname(values.out), { recursive: true });
  await page.screenshot({ path: values.out, type: "png" });
  process.stdout.write(`${values.out}: ${Math.round(statSync(values.out).size / 1024)} KiB\n`);
  await execution.abort();
  await delivery;
} finally {
  await browser.close();
  await sandbox.close();
}
