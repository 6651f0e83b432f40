/**
 * The operators' managed policy (infra/constructs/operator-policy.ts): output for attaching, scoped to this stack,
 * and enough for every AWS call the `rekey` run commands make, found in cli/ as the steps' calls are found in
 * rekey-stack.test.ts.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { evidencePrefix } from "../../cli/evidence-bundle.ts";
import { fleetKeys } from "../../contract/fleet.ts";
import { planGenerationPrefix, planKeys, planPrefix, runKeys } from "../../contract/run-context.ts";
import { planReportManifestKey } from "../../steps/aws/completion-reports.ts";
import {
  allows,
  buildStack,
  logicalIdOf,
  normalizeStatement,
  OTHER_KEY_ARN,
  render,
  SAMPLE_KEY_ARN,
  type Statement,
  stateMachineIds,
} from "./helpers.ts";

let template: Template;
let policyId: string;
let statements: Statement[];
let workBucketArn: string;
let stateMachineId: string;
let fleetMachineId: string;

beforeAll(() => {
  const { stack, synth } = buildStack();
  template = synth();
  policyId = logicalIdOf(template, "AWS::IAM::ManagedPolicy", () => true);
  const policy = template.toJSON().Resources[policyId];
  statements = (policy.Properties.PolicyDocument.Statement as Record<string, unknown>[]).map(normalizeStatement);
  workBucketArn = `<${logicalIdOf(template, "AWS::S3::Bucket", () => true)}.Arn>`;
  ({ run: stateMachineId, fleet: fleetMachineId } = stateMachineIds(stack));
});

const ACCOUNT_REGION = "us-east-1:123456789012";
/** rekey scan reads the configuration of every bucket of the account, which no configuration names ahead. */
const ANY_BUCKET = "arn:aws:s3:::*";
const KEYS = [SAMPLE_KEY_ARN, OTHER_KEY_ARN];
/** Preflight simulates the policies of the account's roles and users (reader impact). */
const PRINCIPALS = ["role", "user"].map((kind) => `arn:aws:iam::123456789012:${kind}/*`);
const JOBS = `arn:aws:s3:${ACCOUNT_REGION}:job/*`;
const executions = () => `arn:aws:states:${ACCOUNT_REGION}:execution:<${stateMachineId}.Name>:*`;
const validateInputFunction = () =>
  `<${logicalIdOf(template, "AWS::Lambda::Function", (p) => p.Handler === "index.validateInputHandler")}.Arn>`;
const mapRuns = () => `arn:aws:states:${ACCOUNT_REGION}:mapRun:<${stateMachineId}.Name>/*`;
const fleets = () => `arn:aws:states:${ACCOUNT_REGION}:execution:<${fleetMachineId}.Name>:*`;
/** The stack (named Rekey by default) names its Athena workgroup after itself and its Glue database in lower case. */
const WORKGROUP = `arn:aws:athena:${ACCOUNT_REGION}:workgroup/Rekey`;
const GLUE = `arn:aws:glue:${ACCOUNT_REGION}`;
const GLUE_CATALOG = `${GLUE}:catalog`;
const each = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} ${r}`));
const grants = (sts: Statement[]) =>
  sts
    .flatMap((s) => s.Action.flatMap((a) => s.Resource.map((r) => `${a} ${r}${s.Condition ? " (conditional)" : ""}`)))
    .sort();

describe("the operators' managed policy", () => {
  it("is a managed policy of the stack, attached to no one, its ARN an output", () => {
    const policy = template.toJSON().Resources[policyId];
    expect(policy.Properties.ManagedPolicyName).toBeUndefined();
    for (const to of ["Roles", "Users", "Groups"]) expect(policy.Properties[to], to).toBeUndefined();
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(render(outputs.OperatorPolicyArn?.Value)).toBe(`<${policyId}>`);
  });

  it("grants exactly the run commands' calls and start's read-only checks, on this stack's resources", () => {
    const w = workBucketArn;
    expect(grants(statements)).toEqual(
      [
        "states:ListStateMachines *",
        `states:StartExecution <${stateMachineId}>`,
        `states:ListExecutions <${stateMachineId}>`,
        ...each(["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"], [executions()]),
        `states:DescribeMapRun ${mapRuns()}`,
        // rekey fleet: the fleet machine's executions and each fleet's buckets file.
        ...each(
          ["states:StartExecution", "states:ListExecutions", "states:DescribeStateMachine"],
          [`<${fleetMachineId}>`],
        ),
        ...each(["states:DescribeExecution", "states:StopExecution"], [fleets()]),
        ...each(["s3:PutObject", "s3:GetObject"], [`${w}/fleets/*/buckets.json`]),
        `states:DescribeStateMachine <${stateMachineId}>`,
        `lambda:GetFunctionConfiguration ${validateInputFunction()}`,
        "s3:ListJobs *",
        ...each(["s3:DescribeJob", "s3:UpdateJobStatus"], [JOBS]),
        "s3:ListAllMyBuckets *",
        "cloudwatch:GetMetricData *",
        ...each(
          [
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:GetBucketTagging",
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetBucketNotification",
            "s3:GetLifecycleConfiguration",
            "s3:GetBucketOwnershipControls",
            "s3:GetBucketPolicy",
            "s3:GetEncryptionConfiguration",
            "s3:GetInventoryConfiguration",
          ],
          [ANY_BUCKET],
        ),
        ...each(["kms:DescribeKey", "kms:GetKeyPolicy"], KEYS),
        "kms:DescribeCustomKeyStores *",
        "iam:ListRoles *",
        "iam:ListUsers *",
        ...each(["iam:SimulatePrincipalPolicy"], PRINCIPALS),
        `s3:GetObject ${w}/runs/*`,
        `s3:GetObject ${w}/plans/*/skipped.csv`,
        `s3:ListBucket ${w}`,
        // rekey evidence: the plan, the ETags of its files, and the bundle under the run's evidence/ folder.
        ...each(
          ["s3:GetObject"],
          [
            `${w}/plans/*/plan.json`,
            `${w}/plans/*/manifests/*`,
            `${w}/plans/*/large-objects.jsonl`,
            `${w}/plans/*/batch-reports/*/manifest.json`,
          ],
        ),
        ...each(["s3:PutObject", "s3:DeleteObject"], [`${w}/runs/*/evidence/*`]),
        // rekey scan: AWS Config's results, and inventory counts from the work bucket, by Athena when large.
        "config:DescribeConfigRules *",
        "config:GetComplianceDetailsByConfigRule *",
        `s3:GetObject ${w}/inventory/*`,
        ...each(["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults"], [WORKGROUP]),
        ...each(["glue:GetDatabase"], [GLUE_CATALOG, `${GLUE}:database/rekey`, `${GLUE}:database/default`]),
        ...each(["glue:CreateDatabase"], [GLUE_CATALOG, `${GLUE}:database/default`]),
        ...each(
          ["glue:GetTable", "glue:CreateTable"],
          [GLUE_CATALOG, `${GLUE}:database/rekey`, `${GLUE}:table/rekey/*`],
        ),
        ...each(
          ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
          [`${w}/athena-results/*`],
        ),
        `s3:GetBucketLocation ${w}`,
      ].sort(),
    );
  });

  it("has no wildcard action, and a wildcard resource only for the actions without a resource type", () => {
    for (const s of statements) {
      expect(s.Effect).toBe("Allow");
      for (const a of s.Action) expect(a, s.Action.join()).toMatch(/^[a-z0-9]+:[A-Za-z]+$/);
    }
    const unscoped = statements.filter((s) => s.Resource.includes("*"));
    expect(unscoped.flatMap((s) => s.Action).sort()).toEqual([
      "cloudwatch:GetMetricData",
      "config:DescribeConfigRules",
      "config:GetComplianceDetailsByConfigRule",
      "iam:ListRoles",
      "iam:ListUsers",
      "kms:DescribeCustomKeyStores",
      "s3:ListAllMyBuckets",
      "s3:ListJobs",
      "states:ListStateMachines",
    ]);
    // Every bucket's configuration, and no object of any bucket but the work bucket's reports.
    const anyBucket = statements.filter((s) => s.Resource.includes(ANY_BUCKET));
    for (const a of anyBucket.flatMap((s) => s.Action))
      expect(a).toMatch(/^s3:(Get|List)Bucket|^s3:Get[A-Za-z]*Configuration$|^s3:GetBucket/);
    for (const s of unscoped) expect(s.Resource, s.Action.join()).toEqual(["*"]);
  });

  it("lets operators change nothing but runs, fleets, their jobs and rekey's own files: no data, no keys, no buckets", () => {
    const writes = statements
      .filter((s) =>
        s.Action.some((a) => !/^(states|s3|kms|lambda|cloudwatch|iam|config|glue):(Get|List|Describe)/.test(a)),
      )
      // The policy simulator only evaluates policies; Athena's query calls, on the stack's workgroup, read.
      .map((s) => ({
        ...s,
        Action: s.Action.filter(
          (a) =>
            !/^(states|s3|kms|lambda|cloudwatch|iam|config|glue):(Get|List|Describe)/.test(a) &&
            a !== "iam:SimulatePrincipalPolicy" &&
            !/^athena:(Get|StartQueryExecution)/.test(a),
        ),
      }))
      .filter((s) => s.Action.length);
    expect(grants(writes)).toEqual(
      [
        `states:StartExecution <${stateMachineId}>`,
        `states:StartExecution <${fleetMachineId}>`,
        `states:StopExecution ${executions()}`,
        `states:StopExecution ${fleets()}`,
        `s3:UpdateJobStatus ${JOBS}`,
        // Only in the stack's work bucket: a fleet's buckets, a run's evidence bundle, Athena's results.
        `s3:PutObject ${workBucketArn}/fleets/*/buckets.json`,
        ...each(["s3:PutObject", "s3:DeleteObject"], [`${workBucketArn}/runs/*/evidence/*`]),
        ...each(["s3:PutObject", "s3:AbortMultipartUpload"], [`${workBucketArn}/athena-results/*`]),
        // Only in the stack's Glue database (and the default one Athena needs): an inventory delivery's table.
        ...each(["glue:CreateDatabase"], [GLUE_CATALOG, `${GLUE}:database/default`]),
        ...each(["glue:CreateTable"], [GLUE_CATALOG, `${GLUE}:database/rekey`, `${GLUE}:table/rekey/*`]),
      ].sort(),
    );
  });

  it("fits IAM's 6,144 characters for a managed policy with ten target keys, at the longest names AWS allows", () => {
    const kmsKeyArns = Array.from(
      { length: 10 },
      (_, i) => `${SAMPLE_KEY_ARN.slice(0, -2)}${String(i).padStart(2, "0")}`,
    );
    const t = buildStack({ config: { kmsKeyArns }, nag: false }).synth();
    const [policy] = Object.values(t.findResources("AWS::IAM::ManagedPolicy"));
    const written = policy?.Properties.PolicyDocument as { Version: string; Statement: Record<string, unknown>[] };
    const document = { Version: written.Version, Statement: written.Statement.map(normalizeStatement) };
    // What CloudFormation fills in, at its longest: state machine names (80), the work bucket's name (63), function
    // names (64). IAM does not count whitespace (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
    const deployed = JSON.stringify(document)
      .replace(/<\w+\.Name>/g, "n".repeat(80))
      .replace(/<WorkBucket\w+\.Arn>/g, `arn:aws:s3:::${"b".repeat(63)}`)
      .replace(/<\w+\.Arn>/g, `arn:aws:lambda:us-east-1:123456789012:function:${"f".repeat(64)}`)
      .replace(/<\w+>/g, `arn:aws:states:us-east-1:123456789012:stateMachine:${"n".repeat(80)}`);
    expect(deployed).not.toMatch(/[<>]/);
    expect(deployed.replace(/\s/g, "").length).toBeLessThanOrEqual(6144);
  });

  it("names no key the configuration names only as a source key", () => {
    const source = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-00000000abcd";
    const t = buildStack({ config: { sourceKmsKeyArns: [source] }, nag: false }).synth();
    const policy = Object.values(t.findResources("AWS::IAM::ManagedPolicy"))[0];
    expect(JSON.stringify(policy)).not.toContain(source);
  });
});

describe("the AWS calls of the rekey run commands", () => {
  const bucket = "arn:aws:s3:::data-prod-eu";
  const job = `arn:aws:s3:${ACCOUNT_REGION}:job/0b1c2d3e`;
  const run = () => `arn:aws:states:${ACCOUNT_REGION}:execution:<${stateMachineId}.Name>:example-data-bucket-20250101`;
  const fleet = () => `arn:aws:states:${ACCOUNT_REGION}:execution:<${fleetMachineId}.Name>:fleet-20250101-chg42`;
  const work = (key: string) => () => `${workBucketArn}/${key}`;
  const plan = "plans/example-data-bucket/2025-01-01T00-00Z-0123456789ab";
  const evidence = "runs/example-data-bucket/example-data-bucket-20250101/evidence";
  /**
   * Every SDK command the run commands send, with the IAM action it needs and the resources it is sent for (one of
   * each kind). A command not listed here fails the test until the operators' policy (and this table) covers it.
   */
  type Need = { action: string; resource: () => string };
  const KNOWN_COMMANDS: Record<string, Need | Need[] | "no permission"> = {
    ListStateMachinesCommand: { action: "states:ListStateMachines", resource: () => "*" },
    DescribeStateMachineCommand: { action: "states:DescribeStateMachine", resource: () => `<${stateMachineId}>` },
    GetFunctionConfigurationCommand: { action: "lambda:GetFunctionConfiguration", resource: () => validateInput },
    // A run, and with rekey fleet, a fleet.
    StartExecutionCommand: [
      { action: "states:StartExecution", resource: () => `<${stateMachineId}>` },
      { action: "states:StartExecution", resource: () => `<${fleetMachineId}>` },
    ],
    ListExecutionsCommand: [
      { action: "states:ListExecutions", resource: () => `<${stateMachineId}>` },
      { action: "states:ListExecutions", resource: () => `<${fleetMachineId}>` },
    ],
    DescribeExecutionCommand: [
      { action: "states:DescribeExecution", resource: run },
      { action: "states:DescribeExecution", resource: fleet },
    ],
    GetExecutionHistoryCommand: { action: "states:GetExecutionHistory", resource: run },
    StopExecutionCommand: [
      { action: "states:StopExecution", resource: run },
      { action: "states:StopExecution", resource: fleet },
    ],
    DescribeMapRunCommand: {
      action: "states:DescribeMapRun",
      resource: () => `arn:aws:states:${ACCOUNT_REGION}:mapRun:<${stateMachineId}.Name>/Plan:0b1c2d3e`,
    },
    ListJobsCommand: { action: "s3:ListJobs", resource: () => "*" },
    DescribeJobCommand: { action: "s3:DescribeJob", resource: () => job },
    UpdateJobStatusCommand: { action: "s3:UpdateJobStatus", resource: () => job },
    GetCallerIdentityCommand: "no permission",
    HeadBucketCommand: { action: "s3:ListBucket", resource: () => bucket },
    GetBucketVersioningCommand: { action: "s3:GetBucketVersioning", resource: () => bucket },
    GetObjectLockConfigurationCommand: { action: "s3:GetBucketObjectLockConfiguration", resource: () => bucket },
    GetBucketReplicationCommand: { action: "s3:GetReplicationConfiguration", resource: () => bucket },
    GetBucketNotificationConfigurationCommand: { action: "s3:GetBucketNotification", resource: () => bucket },
    GetBucketLifecycleConfigurationCommand: { action: "s3:GetLifecycleConfiguration", resource: () => bucket },
    GetBucketOwnershipControlsCommand: { action: "s3:GetBucketOwnershipControls", resource: () => bucket },
    GetBucketPolicyCommand: { action: "s3:GetBucketPolicy", resource: () => bucket },
    GetBucketEncryptionCommand: { action: "s3:GetEncryptionConfiguration", resource: () => bucket },
    GetBucketInventoryConfigurationCommand: {
      action: "s3:GetInventoryConfiguration",
      resource: () => "arn:aws:s3:::example-data-bucket",
    },
    DescribeKeyCommand: { action: "kms:DescribeKey", resource: () => SAMPLE_KEY_ARN },
    GetKeyPolicyCommand: { action: "kms:GetKeyPolicy", resource: () => OTHER_KEY_ARN },
    DescribeCustomKeyStoresCommand: { action: "kms:DescribeCustomKeyStores", resource: () => "*" },
    ListRolesCommand: { action: "iam:ListRoles", resource: () => "*" },
    ListUsersCommand: { action: "iam:ListUsers", resource: () => "*" },
    SimulatePrincipalPolicyCommand: {
      action: "iam:SimulatePrincipalPolicy",
      resource: () => "arn:aws:iam::123456789012:role/service/app-reader",
    },
    // report and evidence: a run's files and plan; fleet: a fleet's buckets; scan: an inventory delivery in the
    // work bucket and, counted by Athena, its results.
    GetObjectCommand: [
      { action: "s3:GetObject", resource: work("runs/b/b-20250101/summary.txt") },
      { action: "s3:GetObject", resource: work(`${plan}/plan.json`) },
      { action: "s3:GetObject", resource: work(`${plan}/batch-reports/job-0b1c2d3e/manifest.json`) },
      { action: "s3:GetObject", resource: work("fleets/fleet-20250101-chg42/buckets.json") },
      { action: "s3:GetObject", resource: work("inventory/b/rekey/2025-01-01T00-00Z/manifest.json") },
      { action: "s3:GetObject", resource: work("inventory/b/rekey/data/0b1c.csv.gz") },
      { action: "s3:GetObject", resource: work("athena-results/0b1c2d3e.csv") },
    ],
    // evidence: the ETags of the plan's files. (scan's HeadObject of a scanned bucket's objects is not granted: those
    // objects stay "unknown", as steps/aws/inventory-counts.ts answers a refusal.)
    HeadObjectCommand: [
      { action: "s3:GetObject", resource: work(`${plan}/manifests/copy-STANDARD.csv`) },
      { action: "s3:GetObject", resource: work(`${plan}/large-objects.jsonl`) },
      { action: "s3:GetObject", resource: work(`${plan}/batch-reports/job-0b1c2d3e/manifest.json`) },
    ],
    // fleet start: a fleet's buckets; evidence: the bundle, replacing an earlier one.
    PutObjectCommand: [
      { action: "s3:PutObject", resource: work("fleets/fleet-20250101-chg42/buckets.json") },
      { action: "s3:PutObject", resource: work(`${evidence}/index.html`) },
    ],
    DeleteObjectCommand: { action: "s3:DeleteObject", resource: work(`${evidence}/manifest.json`) },
    DeleteObjectsCommand: { action: "s3:DeleteObject", resource: work(`${evidence}/old.csv`) },
    // evidence: a job's report folder; scan: an inventory's deliveries, in the bucket it delivers to.
    ListObjectsV2Command: [
      { action: "s3:ListBucket", resource: () => workBucketArn },
      { action: "s3:ListBucket", resource: () => "arn:aws:s3:::any-team-bucket" },
    ],
    // scan: AWS Config's rule and its results; large inventories counted by Athena in the stack's workgroup.
    DescribeConfigRulesCommand: { action: "config:DescribeConfigRules", resource: () => "*" },
    GetComplianceDetailsByConfigRuleCommand: {
      action: "config:GetComplianceDetailsByConfigRule",
      resource: () => `arn:aws:config:${ACCOUNT_REGION}:config-rule/config-rule-0b1c2d`,
    },
    StartQueryExecutionCommand: { action: "athena:StartQueryExecution", resource: () => WORKGROUP },
    GetQueryExecutionCommand: { action: "athena:GetQueryExecution", resource: () => WORKGROUP },
    GetQueryResultsCommand: { action: "athena:GetQueryResults", resource: () => WORKGROUP },
    // rekey scan: every bucket of the account.
    ListBucketsCommand: { action: "s3:ListAllMyBuckets", resource: () => "*" },
    GetMetricDataCommand: { action: "cloudwatch:GetMetricData", resource: () => "*" },
    GetBucketTaggingCommand: { action: "s3:GetBucketTagging", resource: () => "arn:aws:s3:::any-team-bucket" },
    ListObjectVersionsCommand: { action: "s3:ListBucketVersions", resource: () => "arn:aws:s3:::any-team-bucket" },
    ListBucketInventoryConfigurationsCommand: {
      action: "s3:GetInventoryConfiguration",
      resource: () => "arn:aws:s3:::any-team-bucket",
    },
  };
  let validateInput: string;
  beforeAll(() => {
    const fn = logicalIdOf(template, "AWS::Lambda::Function", (p) => p.Handler === "index.validateInputHandler");
    validateInput = `<${fn}.Arn>`;
  });

  /**
   * Files the run commands reach for a few of their functions only, with what each of those sends: the commands
   * of the rest of the file are not counted. A test below checks that nothing else is taken from them.
   */
  const PARTLY_USED: Record<string, Record<string, string[]>> = {
    "steps/aws/s3-io.ts": {
      httpStatusOf: [],
      getText: ["GetObjectCommand"],
      getTextIfExists: ["GetObjectCommand"],
      getStream: ["GetObjectCommand"],
      getStreamWithMd5: ["GetObjectCommand"],
      getBytes: ["GetObjectCommand"],
      putJson: ["PutObjectCommand"],
      listSizes: ["ListObjectsV2Command"],
      deleteKeys: ["DeleteObjectsCommand"],
    },
  };

  /** cli/commands/*.ts and every file they import, transitively, by path from the repository root. */
  function runCommandFiles(): Map<string, string> {
    const root = new URL("../../", import.meta.url);
    const files = new Map<string, string>();
    const queue = readdirSync(new URL("cli/commands/", root))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `cli/commands/${f}`);
    while (queue.length) {
      const path = queue.pop() as string;
      if (files.has(path)) continue;
      const text = readFileSync(new URL(path, root), "utf8");
      files.set(path, text);
      for (const m of text.matchAll(/from "(\.{1,2}\/[^"]+\.ts)"/g)) {
        queue.push(new URL(m[1] as string, new URL(path, root)).href.slice(root.href.length));
      }
    }
    return files;
  }

  /** The commands a function of `source` sends, itself or through the file's other functions it calls. */
  function commandsSentBy(source: string, name: string, seen = new Set<string>()): Set<string> {
    const sent = new Set<string>();
    if (seen.has(name)) return sent;
    seen.add(name);
    const start = source.search(new RegExp(`\\n(export )?(async )?function ${name}\\(`));
    expect(start, `function ${name}`).toBeGreaterThanOrEqual(0);
    const rest = source.slice(start + 1);
    const end = rest.search(/\n(export |async |function |const |\/\*\*)/);
    const body = end < 0 ? rest : rest.slice(0, end);
    for (const m of body.matchAll(/new (\w+Command)\(/g)) sent.add(m[1] as string);
    for (const m of body.matchAll(/\b(\w+)\(/g)) {
      const callee = m[1] as string;
      if (callee !== name && new RegExp(`\\nexport (async )?function ${callee}\\(`).test(source)) {
        for (const c of commandsSentBy(source, callee, seen)) sent.add(c);
      }
    }
    return sent;
  }

  /** The names the files import (not as types) from `path`; any other form of import of it fails the test. */
  function importedFrom(files: Map<string, string>, path: string): string[] {
    const name = path.split("/").pop() as string;
    const names = new Set<string>();
    for (const [from, text] of files) {
      for (const m of text.matchAll(/import\s*(type\s+)?\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
        if (m[1] || !(m[3] as string).endsWith(`/${name}`)) continue;
        for (const n of (m[2] as string).split(",").map((x) => x.trim())) {
          if (n && !n.startsWith("type ")) names.add(n);
        }
      }
      expect(text, from).not.toMatch(new RegExp(`import\\s+(\\*\\s+as\\s+)?\\w+\\s+from\\s*"[^"]*/${name}"`));
    }
    return [...names];
  }

  it("are each granted by the operators' policy", () => {
    const files = runCommandFiles();
    expect([...files.keys()]).toContain("cli/commands/start.ts");
    expect([...files.keys()].filter((f) => /^(local|sandbox|infra)\//.test(f))).toEqual([]);
    const commands = new Set<string>();
    for (const [path, text] of files) {
      if (path in PARTLY_USED) continue;
      for (const m of text.matchAll(/new (\w+Command)\(/g)) commands.add(m[1] as string);
    }
    for (const [path, functions] of Object.entries(PARTLY_USED)) {
      if (!files.has(path)) continue;
      for (const name of importedFrom(files, path)) for (const c of functions[name] ?? []) commands.add(c);
    }
    expect(commands.has("StartExecutionCommand")).toBe(true);
    expect([...commands].filter((c) => !(c in KNOWN_COMMANDS))).toEqual([]);
    for (const c of commands) {
      const needs = KNOWN_COMMANDS[c];
      if (needs === undefined || needs === "no permission") continue;
      for (const need of [needs].flat()) {
        expect(allows(statements, need.action, need.resource()), `${c}: ${need.action} on ${need.resource()}`).toBe(
          true,
        );
      }
    }
  });

  it("take from the partly used files only the functions listed, which send what is listed", () => {
    const files = runCommandFiles();
    for (const [path, functions] of Object.entries(PARTLY_USED)) {
      expect(
        importedFrom(files, path).filter((n) => !(n in functions)),
        path,
      ).toEqual([]);
      const source = readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
      for (const [name, commands] of Object.entries(functions)) {
        expect([...commandsSentBy(source, name)].sort(), name).toEqual([...commands].sort());
      }
    }
  });

  it("may read what report and evidence read, where the steps write it, and not the jobs' result files", () => {
    const bucketName = "example-data-bucket";
    const runPrefix = `runs/${bucketName}/${bucketName}-20250101/`;
    const run = runKeys({ runPrefix });
    const base = planPrefix(
      bucketName,
      `inventory/${bucketName}/rekey/2025-01-01T00-00Z/manifest.json`,
      SAMPLE_KEY_ARN,
    );
    const work = (key: string) => `${workBucketArn}/${key}`;
    const readable = [run.report, run.summary, run.failed, run.failure, run.verification, run.bucketCheck];
    for (const plan of [base, planGenerationPrefix(base, 2)]) {
      const keys = planKeys(plan);
      readable.push(keys.skipped, keys.plan, keys.manifest("STANDARD"), keys.updateManifest, keys.largeObjects);
      readable.push(keys.redriveManifest("0b1c2d3e", 2), planReportManifestKey(plan, "0b1c2d3e"));
    }
    for (const key of readable) expect(allows(statements, "s3:GetObject", work(key)), key).toBe(true);
    for (const key of [
      `${planKeys(base).reportsPrefix}/job-0b1c2d3e/results/r.csv`,
      planKeys(base).delivery,
      planKeys(base).sliceItems,
    ])
      expect(allows(statements, "s3:GetObject", work(key)), key).toBe(false);
    // Evidence writes its bundle under the run's evidence/ folder only.
    for (const action of ["s3:PutObject", "s3:DeleteObject"]) {
      expect(allows(statements, action, work(`${evidencePrefix(runPrefix)}index.html`)), action).toBe(true);
      for (const key of [run.report, run.summary, planKeys(base).plan, planKeys(base).manifest("STANDARD")])
        expect(allows(statements, action, work(key)), `${action} ${key}`).toBe(false);
    }
  });

  it("may write and read a fleet's buckets where rekey fleet start puts them, and nothing else of a fleet", () => {
    const work = (key: string) => `${workBucketArn}/${key}`;
    const keys = fleetKeys("fleet-20250101-chg42");
    expect(allows(statements, "s3:PutObject", work(keys.itemsKey))).toBe(true);
    expect(allows(statements, "s3:GetObject", work(keys.itemsKey))).toBe(true);
    expect(allows(statements, "s3:PutObject", work(`${keys.resultsPrefix}/0f1e/manifest.json`))).toBe(false);
    expect(allows(statements, "s3:DeleteObject", work(keys.itemsKey))).toBe(false);
    // Its fleet executions, not the fleet's children, which Step Functions stops with the fleet.
    const child = `arn:aws:states:${ACCOUNT_REGION}:execution:<${fleetMachineId}.Name>/0f1e:2a3b`;
    expect(allows(statements, "states:StopExecution", child)).toBe(false);
    expect(allows(statements, "states:GetExecutionHistory", fleets().replace(/\*$/, "fleet-1"))).toBe(false);
  });

  it("are refused on another state machine's runs, another bucket and another key", () => {
    const other = `arn:aws:states:${ACCOUNT_REGION}:execution:OtherMachine:run-1`;
    expect(allows(statements, "states:StopExecution", other)).toBe(false);
    const child = `arn:aws:states:${ACCOUNT_REGION}:execution:<${stateMachineId}.Name>/Plan:child`;
    expect(allows(statements, "states:DescribeExecution", child)).toBe(false);
    // Any bucket's configuration may be read (rekey scan), but no object of it.
    expect(allows(statements, "s3:GetBucketPolicy", "arn:aws:s3:::payroll")).toBe(true);
    expect(allows(statements, "s3:GetObject", "arn:aws:s3:::payroll/salaries.csv")).toBe(false);
    expect(allows(statements, "s3:PutEncryptionConfiguration", "arn:aws:s3:::payroll")).toBe(false);
    expect(allows(statements, "s3:GetObject", "arn:aws:s3:::example-data-bucket/secret.csv")).toBe(false);
    expect(allows(statements, "s3:GetObject", `${workBucketArn}/plans/b/manifest.csv`)).toBe(false);
    const otherKey = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-0000-4000-8000-000000000000";
    expect(allows(statements, "kms:DescribeKey", otherKey)).toBe(false);
    const otherFunction = "arn:aws:lambda:us-east-1:123456789012:function:payroll";
    expect(allows(statements, "lambda:GetFunctionConfiguration", otherFunction)).toBe(false);
  });
});
