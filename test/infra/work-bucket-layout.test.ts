/**
 * The grants on the work bucket are prefix patterns (infra/constructs/work-bucket.ts WorkBucketPrefixes); the keys are built by
 * the steps (contract/run-context.ts and friends). This checks the keys the steps actually build against the grants, so
 * a change of layout in steps/ that the policies do not follow fails here, not in an AWS account.
 */
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { fleetKeys } from "../../contract/fleet.ts";
import { defaultEncryptionRecordKey, planKeys, planPrefix, runKeys } from "../../contract/run-context.ts";
import { StateNames, type TaskStateName } from "../../contract/states.ts";
import { StepSpecs } from "../../infra/constructs/step-function.ts";
import { candidateJobsKey } from "../../steps/aws/candidate-lists.ts";
import { inventoryBases } from "../../steps/handlers/find-inventory.ts";
import {
  allows,
  buildStack,
  iamMatch,
  logicalIdOf,
  normalizeStatement,
  render,
  roleStatements,
  stateMachineIds,
} from "./helpers.ts";

const bucket = "example-data-bucket";
// validate-input builds the run prefix as runs/<bucket>/<execution name>/.
const run = { runPrefix: `runs/${bucket}/2024-05-01-rekey-example/` };
const keys = runKeys(run);
const inventoryFolder = `${inventoryBases("inventory", bucket, "rekey")[0]}2024-05-02T00-00Z/`;
const inventoryManifest = `${inventoryFolder}manifest.json`;
const plan = planKeys(planPrefix(bucket, inventoryManifest, "arn:aws:kms:us-east-1:123456789012:key/k"));
const manifest = plan.manifest("STANDARD");
const slice = plan.slice(3);
const reportManifest = `${plan.reportsPrefix}/job-0123/manifest.json`;
const reportFile = `${plan.reportsPrefix}/job-0123/results/0123.csv`;
const reportSlice = keys.reportSlice(7);

let template: Template;
let work: (key: string) => string;
let roleOf: (state: TaskStateName) => string;
let machines: ReturnType<typeof stateMachineIds>;

beforeAll(() => {
  const { stack, synth } = buildStack({ nag: false });
  template = synth();
  machines = stateMachineIds(stack);
  const bucketArn = `<${logicalIdOf(template, "AWS::S3::Bucket", () => true)}.Arn>`;
  work = (key) => `${bucketArn}/${key}`;
  const functions = Object.values(template.findResources("AWS::Lambda::Function"));
  roleOf = (state) =>
    render(
      functions.find((f) => f.Properties.Handler === `index.${StepSpecs[state].handler}`)?.Properties.Role,
    ).replace(/^<(.*)\.Arn>$/, "$1");
});

const S = StateNames;
const cases: [TaskStateName, string, () => string][] = [
  [S.enforceDefaultEncryption, "s3:GetObject", () => defaultEncryptionRecordKey(bucket)],
  [S.enforceDefaultEncryption, "s3:PutObject", () => defaultEncryptionRecordKey(bucket)],
  [S.findInventory, "s3:GetObject", () => inventoryManifest],
  [S.findInventory, "s3:GetObject", () => `${inventoryFolder}manifest.checksum`],
  [S.findInventory, "s3:GetObject", () => candidateJobsKey(run)],
  [S.findInventory, "s3:PutObject", () => candidateJobsKey(run)],
  [S.sliceInventory, "s3:GetObject", () => inventoryManifest],
  [S.sliceInventory, "s3:GetObject", () => plan.plan],
  [S.sliceInventory, "s3:GetObject", () => plan.delivery],
  [S.sliceInventory, "s3:PutObject", () => plan.delivery],
  [S.sliceInventory, "s3:PutObject", () => plan.sliceItems],
  [S.writeManifests, "s3:GetObject", () => `${inventoryBases("inventory", bucket, "rekey")[0]}data/a.csv.gz`],
  [S.writeManifests, "s3:GetObject", () => plan.delivery],
  [S.writeManifests, "s3:GetObject", () => "athena-results/unload/0123456789abcdef/20240502_000000_abcd.gz"],
  [S.writeManifests, "s3:PutObject", () => slice.manifest("STANDARD")],
  [S.writeManifests, "s3:AbortMultipartUpload", () => slice.manifest("STANDARD")],
  [S.writeManifests, "s3:PutObject", () => slice.updateManifest],
  [S.writeManifests, "s3:PutObject", () => slice.skipped],
  [S.writeManifests, "s3:PutObject", () => slice.largeObjects],
  [S.writeManifests, "s3:PutObject", () => slice.plan],
  [S.writeManifests, "s3:GetObject", () => slice.plan],
  [S.writeManifests, "s3:PutObject", () => slice.checkpoint],
  [S.writeManifests, "s3:PutObject", () => slice.checkpointTail(2, "skipped")],
  [S.writeManifests, "s3:DeleteObject", () => slice.checkpoint],
  [S.writeManifests, "s3:DeleteObject", () => slice.checkpointTail(2, "skipped")],
  [S.combinePlan, "s3:GetObject", () => plan.delivery],
  [S.combinePlan, "s3:GetObject", () => slice.plan],
  [S.combinePlan, "s3:GetObject", () => slice.manifest("STANDARD")],
  [S.combinePlan, "s3:PutObject", () => manifest],
  [S.combinePlan, "s3:AbortMultipartUpload", () => manifest],
  [S.combinePlan, "s3:PutObject", () => plan.updateManifest],
  [S.combinePlan, "s3:PutObject", () => plan.skipped],
  [S.combinePlan, "s3:PutObject", () => plan.largeObjects],
  [S.combinePlan, "s3:PutObject", () => plan.plan],
  [S.combinePlan, "s3:DeleteObject", () => slice.manifest("STANDARD")],
  [S.combinePlan, "s3:DeleteObject", () => plan.sliceItems],
  [S.sliceReports, "s3:GetObject", () => reportManifest],
  [S.sliceReports, "s3:PutObject", () => keys.reportFiles],
  [S.sliceReports, "s3:PutObject", () => keys.reportSliceItems],
  [S.readReports, "s3:GetObject", () => keys.reportFiles],
  [S.readReports, "s3:GetObject", () => reportFile],
  [S.readReports, "s3:GetObject", () => reportSlice.result],
  [S.readReports, "s3:PutObject", () => reportSlice.result],
  [S.readReports, "s3:GetObject", () => reportSlice.progress],
  [S.readReports, "s3:PutObject", () => reportSlice.progress],
  [S.readReports, "s3:PutObject", () => reportSlice.failedPart(2)],
  [S.readReports, "s3:AbortMultipartUpload", () => reportSlice.failedPart(2)],
  [S.verifyResults, "s3:GetObject", () => plan.plan],
  [S.verifyResults, "s3:GetObject", () => keys.reportFiles],
  [S.verifyResults, "s3:GetObject", () => reportSlice.result],
  [S.verifyResults, "s3:GetObject", () => reportSlice.failedPart(2)],
  [S.verifyResults, "s3:PutObject", () => keys.largeCopyFailed],
  [S.verifyResults, "s3:PutObject", () => keys.failed],
  [S.verifyResults, "s3:AbortMultipartUpload", () => keys.failed],
  [S.verifyResults, "s3:PutObject", () => keys.verification],
  [S.verifyResults, "s3:DeleteObject", () => keys.reportFiles],
  [S.verifyResults, "s3:DeleteObject", () => keys.reportSliceItems],
  [S.verifyResults, "s3:DeleteObject", () => reportSlice.failedPart(2)],
  [S.verifyResults, "s3:DeleteObject", () => keys.largeCopyFailed],
  [S.writeFinalReport, "s3:GetObject", () => keys.verification],
  [S.writeFinalReport, "s3:PutObject", () => keys.report],
  [S.writeFinalReport, "s3:PutObject", () => keys.summary],
  [S.recordFailure, "s3:PutObject", () => keys.failure],
];

describe("the work bucket layout the steps use is the one the policies grant", () => {
  it.each(cases)("%s may %s %s", (state, action, key) => {
    expect(allows(roleStatements(template, roleOf(state)), action, work(key()))).toBe(true);
  });

  it("Batch Operations may read the manifests and write the completion reports", () => {
    const role = logicalIdOf(template, "AWS::IAM::Role", (p) =>
      JSON.stringify(p.AssumeRolePolicyDocument).includes("batchoperations.s3.amazonaws.com"),
    );
    const statements = roleStatements(template, role);
    expect(allows(statements, "s3:GetObject", work(manifest))).toBe(true);
    expect(allows(statements, "s3:PutObject", work(reportManifest))).toBe(true);
    expect(allows(statements, "s3:PutObject", work(reportFile))).toBe(true);
    // …and nothing else in the work bucket.
    expect(allows(statements, "s3:GetObject", work(plan.plan))).toBe(false);
    expect(allows(statements, "s3:PutObject", work(keys.report))).toBe(false);
  });

  it("Athena, with the credentials of the step that queries (Slice the inventory), may read the inventory's table and write results where the workgroup puts them", () => {
    const statements = roleStatements(template, roleOf(S.sliceInventory));
    // The table's LOCATION is the inventory's hive/ folder of symlink lists, which name the data files.
    const base = inventoryBases("inventory", bucket, "rekey")[0] as string;
    expect(allows(statements, "s3:GetObject", work(`${base}hive/dt=2024-05-02-00-00/symlink.txt`))).toBe(true);
    expect(allows(statements, "s3:GetObject", work(`${base}data/a.csv.gz`))).toBe(true);
    const group = Object.values(template.findResources("AWS::Athena::WorkGroup"))[0]?.Properties;
    const output = render(group.WorkGroupConfiguration.ResultConfiguration.OutputLocation);
    const results = output.replace(/^s3:\/\/<(\w+)>\//, (_, id: string) => `<${id}.Arn>/`);
    for (const file of ["0123-abcd.csv", "0123-abcd.csv.metadata", "0123-abcd.txt"]) {
      for (const action of ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"])
        expect(allows(statements, action, `${results}${file}`), `${action} ${file}`).toBe(true);
    }
    expect(allows(statements, "s3:ListBucket", work("").replace(/\/$/, ""))).toBe(true);
    expect(allows(statements, "s3:GetBucketLocation", work("").replace(/\/$/, ""))).toBe(true);
  });

  it("the state machine may read the slices and write the Map Run's results, and delete nothing", () => {
    const statements = roleStatements(template, machines.runRole);
    expect(allows(statements, "s3:GetObject", work(plan.sliceItems))).toBe(true);
    const results = `${plan.sliceResults}/0f1e2d3c-aaaa-bbbb-cccc-000011112222/`;
    for (const file of ["manifest.json", "SUCCEEDED_0.json", "FAILED_0.json"]) {
      expect(allows(statements, "s3:PutObject", work(`${results}${file}`)), file).toBe(true);
    }
    expect(allows(statements, "s3:PutObject", work(plan.plan))).toBe(false);
    expect(allows(statements, "s3:DeleteObject", work(plan.sliceItems))).toBe(false);
    // The same for the slices of verification, under the run's prefix.
    expect(allows(statements, "s3:GetObject", work(keys.reportSliceItems))).toBe(true);
    const verified = `${keys.reportSliceResults}/0f1e2d3c-aaaa-bbbb-cccc-000011112222/`;
    for (const file of ["manifest.json", "SUCCEEDED_0.json", "FAILED_0.json"]) {
      expect(allows(statements, "s3:PutObject", work(`${verified}${file}`)), file).toBe(true);
    }
    expect(allows(statements, "s3:GetObject", work(keys.reportFiles))).toBe(false);
    expect(allows(statements, "s3:PutObject", work(keys.verification))).toBe(false);
    expect(allows(statements, "s3:DeleteObject", work(keys.reportSliceItems))).toBe(false);
  });

  it("the fleet machine may read a fleet's buckets where rekey fleet start writes them, and write its Map Run's results", () => {
    const statements = roleStatements(template, machines.fleetRole);
    const fleet = fleetKeys("fleet-20250101-chg42");
    expect(allows(statements, "s3:GetObject", work(fleet.itemsKey))).toBe(true);
    const results = `${fleet.resultsPrefix}/0f1e2d3c-aaaa-bbbb-cccc-000011112222/`;
    for (const file of ["manifest.json", "SUCCEEDED_0.json", "FAILED_0.json"]) {
      expect(allows(statements, "s3:PutObject", work(`${results}${file}`)), file).toBe(true);
    }
    expect(allows(statements, "s3:PutObject", work(fleet.itemsKey))).toBe(false);
    expect(allows(statements, "s3:DeleteObject", work(fleet.itemsKey))).toBe(false);
    expect(allows(statements, "s3:GetObject", work(keys.report))).toBe(false);
  });

  it("only Verify results may delete under the run's prefix, and only verification's slices", () => {
    const statements = roleStatements(template, roleOf(S.verifyResults));
    expect(allows(statements, "s3:DeleteObject", work(keys.verification))).toBe(false);
    expect(allows(statements, "s3:DeleteObject", work(keys.failed))).toBe(false);
    expect(allows(statements, "s3:DeleteObject", work(keys.report))).toBe(false);
    expect(allows(roleStatements(template, roleOf(S.readReports)), "s3:DeleteObject", work(reportSlice.progress))).toBe(
      false,
    );
  });

  it("S3 Inventory may deliver where Find inventory looks", () => {
    const policy = Object.values(template.findResources("AWS::S3::BucketPolicy"))[0];
    const statements = ((policy?.Properties.PolicyDocument.Statement ?? []) as Record<string, unknown>[])
      .filter((s) => s.Sid === "AllowS3InventoryDelivery")
      .map(normalizeStatement);
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Resource.some((r) => iamMatch(r, work(inventoryManifest)))).toBe(true);
  });
});
