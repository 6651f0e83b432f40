import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FunctionPlaceholders, StateNames, type TaskStateName } from "../../contract/states.ts";
import { StepSpecs } from "../../infra/constructs/step-function.ts";
import { LARGE_COPY_TIME_BUDGET_MS } from "../../workflow/definition.ts";
import {
  buildStack,
  logicalIdOf,
  normalizeStatement,
  OTHER_KEY_ARN,
  render,
  roleStatements,
  SAMPLE_KEY_ARN,
  type Statement,
  stateMachineIds,
} from "./helpers.ts";

let template: Template;
let workBucketArn: string;
let batchRoleId: string;
let stateMachineId: string;
/** The rekey state machine's role, and the fleet state machine's logical id (test/infra/fleet.test.ts). */
let stateMachineRoleId: string;
let fleetMachineId: string;
/** The role logical id of each step's function, by state name. */
const stepRoles = {} as Record<TaskStateName, string>;
const stepStatements = (state: TaskStateName) => roleStatements(template, stepRoles[state]);

beforeAll(() => {
  const { stack, synth } = buildStack();
  template = synth();
  workBucketArn = `<${logicalIdOf(template, "AWS::S3::Bucket", () => true)}.Arn>`;
  ({ run: stateMachineId, runRole: stateMachineRoleId, fleet: fleetMachineId } = stateMachineIds(stack));
  batchRoleId = logicalIdOf(template, "AWS::IAM::Role", (p) =>
    JSON.stringify(p.AssumeRolePolicyDocument).includes("batchoperations.s3.amazonaws.com"),
  );
  for (const [state, spec] of Object.entries(StepSpecs) as [TaskStateName, (typeof StepSpecs)[TaskStateName]][]) {
    const fn = Object.values(template.findResources("AWS::Lambda::Function")).find(
      (f) => f.Properties.Handler === `index.${spec.handler}`,
    );
    stepRoles[state] = render(fn?.Properties.Role).replace(/^<(.*)\.Arn>$/, "$1");
  }
});

/** A statement's grants as "action resource" lines, sorted: what a reviewer reads. */
function grants(statements: Statement[]): string[] {
  return statements
    .flatMap((s) => s.Action.flatMap((a) => s.Resource.map((r) => `${a} ${r}${s.Condition ? " (conditional)" : ""}`)))
    .sort();
}

const TARGET_BUCKETS = ["arn:aws:s3:::example-data-bucket", "arn:aws:s3:::data-prod-*"];
const TARGET_OBJECTS = TARGET_BUCKETS.map((b) => `${b}/*`);
const TARGET_KEYS = [SAMPLE_KEY_ARN, OTHER_KEY_ARN];
const JOBS = "arn:aws:s3:us-east-1:123456789012:job/*";
/** The stack (named Rekey by default) names its workgroup after itself and its Glue database in lower case. */
const WORKGROUP = "arn:aws:athena:us-east-1:123456789012:workgroup/Rekey";
const GLUE = "arn:aws:glue:us-east-1:123456789012";
const GLUE_CATALOG = `${GLUE}:catalog`;
const logs = (state: TaskStateName) => {
  const id = render(
    Object.values(template.findResources("AWS::Lambda::Function")).find(
      (f) => f.Properties.Handler === `index.${StepSpecs[state].handler}`,
    )?.Properties.LoggingConfig.LogGroup,
  );
  return [
    `logs:CreateLogStream ${id.replace(/^<(.*)>$/, "<$1.Arn>")}`,
    `logs:PutLogEvents ${id.replace(/^<(.*)>$/, "<$1.Arn>")}`,
  ];
};
const XRAY = ["xray:PutTelemetryRecords *", "xray:PutTraceSegments *"];
const each = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} ${r}`));

describe("the Batch Operations role", () => {
  it("is trusted by S3 Batch Operations only", () => {
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "batchoperations.s3.amazonaws.com" } },
        ],
      },
    });
  });

  it("may copy objects in place on the allowed buckets, read manifests, write reports, and use the target keys only", () => {
    const w = workBucketArn;
    expect(grants(roleStatements(template, batchRoleId))).toEqual(
      [
        ...each(["s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"], TARGET_OBJECTS),
        ...each(["s3:UpdateObjectEncryption"], TARGET_OBJECTS),
        ...each(["s3:ListBucket"], TARGET_BUCKETS),
        ...each(["s3:GetObject", "s3:GetObjectVersion"], [`${w}/plans/*/manifests/*`]),
        `s3:PutObject ${w}/plans/*/batch-reports/*`,
        `s3:PutObject ${w}/runs/*/candidates/*`,
        ...each(
          ["kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
          TARGET_KEYS,
        ),
      ].sort(),
    );
  });
});

describe("the Batch Operations role with source keys configured", () => {
  it("may re-encrypt from exactly the named source keys, and no more", () => {
    const source = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-00000000abcd";
    const t = buildStack({ config: { sourceKmsKeyArns: [source] } }).synth();
    const roleId = logicalIdOf(t, "AWS::IAM::Role", (p) =>
      JSON.stringify(p.AssumeRolePolicyDocument).includes("batchoperations.s3.amazonaws.com"),
    );
    const onSource = grants(roleStatements(t, roleId)).filter((g) => g.endsWith(source));
    expect(onSource).toEqual([`kms:Decrypt ${source}`, `kms:ReEncryptFrom ${source}`]);
  });

  it("lets the direct copier read a long key that is SSE-KMS under a source key, and nothing more", () => {
    const source = "arn:aws:kms:us-east-1:123456789012:key/0b1c2d3e-0000-4000-8000-00000000abcd";
    const t = buildStack({ config: { sourceKmsKeyArns: [source] } }).synth();
    const onSource = Object.values(t.findResources("AWS::IAM::Policy")).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
        .map(normalizeStatement)
        .filter((st) => st.Resource.includes(source))
        .map((st) => `${(st as { Sid?: string }).Sid ?? ""} ${st.Action.join(",")}`),
    );
    expect(onSource.sort()).toEqual(
      ["DecryptSourceKeys kms:Decrypt", "ReEncryptFromSourceKeys kms:Decrypt,kms:ReEncryptFrom"].sort(),
    );
  });
});

describe("each step's role allows exactly the calls its step makes", () => {
  const w = () => workBucketArn;
  const cases: [TaskStateName, () => string[]][] = [
    [
      StateNames.validateInput,
      () => [
        ...each(["s3:ListBucket"], [...TARGET_BUCKETS, w()]),
        ...each(["kms:DescribeKey"], TARGET_KEYS),
        ...each(["s3:GetInventoryConfiguration"], TARGET_BUCKETS),
        ...each(["s3:GetObject", "s3:PutObject"], [`${w()}/runs/*/lock.json`]),
        `states:DescribeExecution arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>:*`,
      ],
    ],
    [
      StateNames.enforceDefaultEncryption,
      () => [
        ...each(["s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"], TARGET_BUCKETS),
        ...each(["s3:GetObject", "s3:PutObject"], [`${w()}/runs/*`]),
        `s3:ListBucket ${w()}`,
      ],
    ],
    [
      StateNames.preflight,
      () => [
        ...each(
          [
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetReplicationConfiguration",
            "s3:GetBucketNotification",
            "s3:GetLifecycleConfiguration",
            "s3:GetBucketOwnershipControls",
            "s3:GetBucketPolicy",
            "s3:GetEncryptionConfiguration",
          ],
          TARGET_BUCKETS,
        ),
        ...each(["kms:DescribeKey", "kms:GetKeyPolicy"], TARGET_KEYS),
        ...each(["s3:GetInventoryConfiguration"], TARGET_BUCKETS),
        // The target key's custom key store, and the bucket's readers: the account's roles and users, simulated.
        "kms:DescribeCustomKeyStores *",
        ...each(["iam:ListRoles", "iam:ListUsers"], ["*"]),
        ...each(
          ["iam:SimulatePrincipalPolicy"],
          ["role", "user"].map((k) => `arn:aws:iam::123456789012:${k}/*`),
        ),
      ],
    ],
    [
      StateNames.findInventory,
      () => [
        ...each(["s3:GetInventoryConfiguration"], TARGET_BUCKETS),
        `s3:ListBucket ${w()}`,
        `s3:GetObject ${w()}/inventory/*`,
        `s3:GetObject ${w()}/runs/*/candidates/jobs.json`,
        `s3:PutObject ${w()}/runs/*/candidates/jobs.json`,
        "s3:CreateJob *",
        // A list job already created is found by its description before CreateJob is sent again.
        "s3:ListJobs *",
        `s3:DescribeJob ${JOBS}`,
        `s3:UpdateJobStatus ${JOBS}`,
        "iam:PassRole <BATCH_ROLE.Arn> (conditional)",
      ],
    ],
    [
      StateNames.sliceInventory,
      () => [
        `s3:GetObject ${w()}/inventory/*`,
        `s3:GetObject ${w()}/runs/*/candidates/*`,
        // delivery.json and slices.json written, a stored plan read (and its manifests' ETags).
        ...each(["s3:GetObject", "s3:PutObject"], [`${w()}/plans/*`]),
        `s3:ListBucket ${w()}`,
        "s3:ListJobs *",
        `s3:DescribeJob ${JOBS}`,
        // The athena engine: its queries in the stack's workgroup only, its tables in the stack's database only.
        ...each(
          [
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
          ],
          [WORKGROUP],
        ),
        ...each(["glue:GetDatabase"], [GLUE_CATALOG, `${GLUE}:database/rekey`, `${GLUE}:database/default`]),
        ...each(["glue:CreateDatabase"], [GLUE_CATALOG, `${GLUE}:database/default`]),
        ...each(
          ["glue:GetTable", "glue:CreateTable"],
          [GLUE_CATALOG, `${GLUE}:database/rekey`, `${GLUE}:table/rekey/*`],
        ),
        ...each(
          ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
          [`${w()}/athena-results/*`],
        ),
        `s3:GetBucketLocation ${w()}`,
      ],
    ],
    [
      StateNames.writeManifests,
      () => [
        `s3:GetObject ${w()}/inventory/*`,
        `s3:GetObject ${w()}/runs/*/candidates/*`,
        // The files the athena engine's UNLOAD wrote.
        `s3:GetObject ${w()}/athena-results/*`,
        ...each(["s3:PutObject", "s3:AbortMultipartUpload"], [`${w()}/runs/*`, `${w()}/plans/*`]),
        `s3:GetObject ${w()}/plans/*`,
        // A slice planned over several invocations deletes its saved progress; nothing outside the slices.
        `s3:DeleteObject ${w()}/plans/*/slices/*`,
        `s3:ListBucket ${w()}`,
        ...each(["s3:GetObject"], TARGET_OBJECTS),
        ...each(["s3:ListBucket"], TARGET_BUCKETS),
        "s3:ListJobs *",
        `s3:DescribeJob ${JOBS}`,
      ],
    ],
    [
      StateNames.combinePlan,
      () => [
        ...each(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"], [`${w()}/plans/*`]),
        `s3:ListBucket ${w()}`,
        ...each(["s3:DeleteObject"], [`${w()}/plans/*/slices/*`, `${w()}/plans/*/slices.json`]),
      ],
    ],
    [
      StateNames.createCopyJobs,
      () => [
        "s3:CreateJob *",
        "s3:ListJobs *",
        "iam:PassRole <BATCH_ROLE.Arn> (conditional)",
        // A job made after the run was stopped is cancelled; whether it was, from the run's own execution.
        `s3:UpdateJobStatus ${JOBS}`,
        `states:DescribeExecution arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>:*`,
      ],
    ],
    [
      StateNames.checkCopyJobs,
      () => [
        `s3:DescribeJob ${JOBS}`,
        // Early cancellation, and redrive jobs: their failed rows read, a manifest written, the job created.
        `s3:UpdateJobStatus ${JOBS}`,
        "s3:CreateJob *",
        "s3:ListJobs *",
        "iam:PassRole <BATCH_ROLE.Arn> (conditional)",
        `s3:GetObject ${w()}/plans/*`,
        ...each(["s3:PutObject", "s3:AbortMultipartUpload"], [`${w()}/plans/*`]),
        `s3:ListBucket ${w()}`,
        `states:DescribeExecution arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>:*`,
      ],
    ],
    [
      StateNames.copyLargeObjects,
      () => [
        ...each(
          [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:GetObjectTagging",
            "s3:GetObjectVersionTagging",
            "s3:PutObject",
            "s3:PutObjectTagging",
            "s3:PutObjectVersionTagging",
            "s3:PutObjectRetention",
            "s3:PutObjectLegalHold",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
          ],
          TARGET_OBJECTS,
        ),
        ...each(["s3:ListBucket", "s3:ListBucketVersions"], TARGET_BUCKETS),
        ...each(["kms:GenerateDataKey", "kms:Decrypt"], TARGET_KEYS),
        `s3:GetObject ${w()}/plans/*`,
        `s3:PutObject ${w()}/plans/*`,
        `s3:ListBucket ${w()}`,
        `s3:DescribeJob ${JOBS}`,
      ],
    ],
    [
      StateNames.sliceReports,
      () => [`s3:GetObject ${w()}/plans/*`, `s3:PutObject ${w()}/runs/*/verify/*`, `s3:ListBucket ${w()}`],
    ],
    [
      StateNames.readReports,
      () => [
        ...each(["s3:GetObject"], [`${w()}/plans/*`, `${w()}/runs/*/verify/*`]),
        ...each(["s3:PutObject", "s3:AbortMultipartUpload"], [`${w()}/runs/*/verify/*`]),
        `s3:ListBucket ${w()}`,
        // HeadObject of the rows that say missing (404) or modified (412).
        ...each(["s3:GetObject"], TARGET_OBJECTS),
        ...each(["s3:ListBucket"], TARGET_BUCKETS),
      ],
    ],
    [
      StateNames.verifyResults,
      () => [
        `s3:DescribeJob ${JOBS}`,
        ...each(["s3:GetObject"], [`${w()}/runs/*`, `${w()}/plans/*`]),
        ...each(["s3:PutObject", "s3:AbortMultipartUpload"], [`${w()}/runs/*`]),
        `s3:DeleteObject ${w()}/runs/*/verify/*`,
        `s3:ListBucket ${w()}`,
        // The spot check reads the version a copy was copied from (ListObjectVersions, HeadObject with VersionId),
        // and the tags of both.
        ...each(
          ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"],
          TARGET_OBJECTS,
        ),
        ...each(["s3:ListBucket", "s3:ListBucketVersions"], TARGET_BUCKETS),
      ],
    ],
    [
      StateNames.lookForNonCompliantObjects,
      () => [
        ...each(["s3:GetObject"], TARGET_OBJECTS),
        ...each(["s3:ListBucket"], TARGET_BUCKETS),
        `s3:GetObject ${w()}/plans/*`,
        ...each(["s3:GetObject", "s3:PutObject"], [`${w()}/runs/*`]),
        `s3:ListBucket ${w()}`,
        "s3:CreateJob *",
        `s3:DescribeJob ${JOBS}`,
        `s3:UpdateJobStatus ${JOBS}`,
        "iam:PassRole <BATCH_ROLE.Arn> (conditional)",
      ],
    ],
    [
      StateNames.writeFinalReport,
      () => [
        `s3:GetObject ${w()}/runs/*`,
        `s3:PutObject ${w()}/runs/*`,
        ...each(["s3:GetObject", "s3:DeleteObject"], [`${w()}/runs/*/lock.json`]),
        `s3:ListBucket ${w()}`,
      ],
    ],
    [
      StateNames.recordFailure,
      () => [
        `s3:PutObject ${w()}/runs/*`,
        ...each(["s3:GetObject", "s3:DeleteObject"], [`${w()}/runs/*/lock.json`]),
        `s3:ListBucket ${w()}`,
        // Why a slice failed, from its own execution.
        `states:ListMapRuns arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>:*`,
        `states:ListExecutions arn:aws:states:us-east-1:123456789012:mapRun:<${stateMachineId}.Name>/*`,
        `states:DescribeExecution arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>/*`,
      ],
    ],
  ];
  it.each(cases)("%s", (state, expected) => {
    const actual = grants(stepStatements(state)).map((g) => g.replace(`<${batchRoleId}.Arn>`, "<BATCH_ROLE.Arn>"));
    expect(actual).toEqual([...expected(), ...logs(state), ...XRAY].sort());
  });

  it("grants iam:PassRole only to the steps that create jobs, on the Batch Operations role, to Batch Operations", () => {
    const passRole = Object.entries(template.findResources("AWS::IAM::Policy")).flatMap(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
        .map(normalizeStatement)
        .filter((s) => s.Action.includes("iam:PassRole"))
        .map((s) => ({ roles: (p.Properties.Roles as unknown[]).map(render), s })),
    );
    // Create copy jobs, Check copy jobs for redrive jobs, and for the manifest generator's lists Find inventory
    // (source: generate) and the check after the jobs.
    expect(passRole.map((p) => p.roles).sort()).toEqual(
      [
        [`<${stepRoles[StateNames.createCopyJobs]}>`],
        [`<${stepRoles[StateNames.checkCopyJobs]}>`],
        [`<${stepRoles[StateNames.findInventory]}>`],
        [`<${stepRoles[StateNames.lookForNonCompliantObjects]}>`],
      ].sort(),
    );
    for (const p of passRole) {
      expect(p.s).toMatchObject({
        Action: ["iam:PassRole"],
        Resource: [`<${batchRoleId}.Arn>`],
        Condition: { StringEquals: { "iam:PassedToService": "batchoperations.s3.amazonaws.com" } },
      });
    }
  });

  it("uses a wildcard resource only where no name can be known", () => {
    const everything = Object.values(template.findResources("AWS::IAM::Policy")).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Record<string, unknown>[]).map(normalizeStatement),
    );
    const unscopedActions = new Set(everything.filter((s) => s.Resource.includes("*")).flatMap((s) => s.Action));
    expect([...unscopedActions].sort()).toEqual(
      [
        // No resource types (Service Authorization Reference):
        "s3:CreateJob",
        "s3:ListJobs",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
        // Preflight: the target key's custom key store, and the account's roles and users (the whole account).
        "kms:DescribeCustomKeyStores",
        "iam:ListRoles",
        "iam:ListUsers",
        // Step Functions logging to CloudWatch Logs (vended log delivery):
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:DescribeLogGroups",
        "logs:DescribeResourcePolicies",
        "logs:GetLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:UpdateLogDelivery",
      ].sort(),
    );
    // Every other resource names the work bucket, a configured bucket or key, this account's jobs, this state
    // machine's executions, or a log group.
    const allowed = [
      new RegExp(`^${workBucketArn.replace(/[.<>]/g, "\\$&")}(/(runs|plans|inventory|athena-results)/.*)?$`),
      /^arn:aws:athena:us-east-1:123456789012:workgroup\/Rekey$/,
      /^arn:aws:glue:us-east-1:123456789012:(catalog|database\/(rekey|default)|table\/rekey\/\*)$/,
      /^arn:aws:s3:::(example-data-bucket|data-prod-\*)(\/\*)?$/,
      new RegExp(`^(${TARGET_KEYS.join("|")})$`),
      /^arn:aws:s3:us-east-1:123456789012:job\/\*$/,
      new RegExp(`^arn:aws:states:us-east-1:123456789012:(execution|mapRun):<${stateMachineId}\\.Name>[:/]\\*$`),
      new RegExp(`^<${stateMachineId}>$`),
      // The fleet machine (test/infra/fleet.test.ts): its own executions, its items and results, and the rule Step
      // Functions manages to learn that a run it started ended.
      new RegExp(`^arn:aws:states:us-east-1:123456789012:execution:<${fleetMachineId}\\.Name>[:/]\\*$`),
      new RegExp(`^<${fleetMachineId}>$`),
      new RegExp(`^${workBucketArn.replace(/[.<>]/g, "\\$&")}/fleets/\\*/(buckets\\.json|results/\\*)$`),
      /^arn:aws:events:us-east-1:123456789012:rule\/StepFunctionsGetEventsForStepFunctionsExecutionRule$/,
      /^<\w+Logs\w+\.Arn>$/,
      /^<\w+StepFunction\w+\.Arn>$/,
      new RegExp(`^<${batchRoleId}\\.Arn>$`),
      // Preflight simulates this account's roles and users.
      /^arn:aws:iam::123456789012:(role|user)\/\*$/,
    ];
    for (const r of everything.flatMap((s) => s.Resource).filter((r) => r !== "*"))
      expect(
        allowed.some((re) => re.test(r)),
        r,
      ).toBe(true);
  });
});

describe("the state machine", () => {
  const runMachine = () => template.toJSON().Resources[stateMachineId];

  it("logs everything to a log group with a retention, traces with X-Ray, and has no hard-coded name", () => {
    expect(runMachine().Properties).toMatchObject({
      StateMachineType: "STANDARD",
      LoggingConfiguration: {
        Level: "ALL",
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: expect.anything() } }],
      },
      TracingConfiguration: { Enabled: true },
    });
    expect(runMachine().Properties.StateMachineName).toBeUndefined();
    const sm = runMachine();
    const logGroup = render(sm?.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn);
    const logGroupId = logGroup.replace(/^<(.*)\.Arn>$/, "$1");
    expect(template.toJSON().Resources[logGroupId].Properties.RetentionInDays).toBe(90);
  });

  it("has a machine-level timeout", () => {
    const sm = runMachine();
    const definition = JSON.parse(sm?.Properties.DefinitionString as string) as { TimeoutSeconds?: number };
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
    expect(definition.TimeoutSeconds).toBeLessThanOrEqual(365 * 24 * 3600);
  });

  it("may invoke exactly the step functions, one per Task state, by unqualified ARN", () => {
    const smRole = stateMachineRoleId;
    const invoke = roleStatements(template, smRole).filter((s) => s.Action.includes("lambda:InvokeFunction"));
    const functions = Object.keys(template.findResources("AWS::Lambda::Function")).map((id) => `<${id}.Arn>`);
    expect(functions).toHaveLength(Object.keys(FunctionPlaceholders).length);
    expect(invoke).toHaveLength(1);
    expect(invoke[0]?.Action).toEqual(["lambda:InvokeFunction"]);
    expect([...(invoke[0]?.Resource ?? [])].sort()).toEqual(functions.sort());
  });
});

describe("the Distributed Map of the state machine", () => {
  it("may start and follow its own slices' executions and read and write only the slices' files", () => {
    const smRole = stateMachineRoleId;
    const ofMap = grants(
      roleStatements(template, smRole).filter((st) =>
        st.Action.some((a) => a.startsWith("states:") || a.startsWith("s3:")),
      ),
    );
    expect(ofMap).toEqual(
      [
        `states:StartExecution <${stateMachineId}>`,
        // Its own executions, as AWS's Distributed Map policy has it, and its children, to follow and stop them.
        `states:DescribeExecution arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>:*`,
        ...each(
          ["states:DescribeExecution", "states:StopExecution"],
          [`arn:aws:states:us-east-1:123456789012:execution:<${stateMachineId}.Name>/*`],
        ),
        `s3:GetObject ${workBucketArn}/plans/*/slices.json`,
        ...each(
          ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
          [`${workBucketArn}/plans/*/slice-results/*`],
        ),
        `s3:GetObject ${workBucketArn}/runs/*/verify/slices.json`,
        ...each(
          ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
          [`${workBucketArn}/runs/*/verify-results/*`],
        ),
      ].sort(),
    );
  });
});

describe("the step functions", () => {
  it("run Node 22 on arm64 with JSON logs, source maps, and the deployment's settings", () => {
    const functions = Object.values(template.findResources("AWS::Lambda::Function"));
    expect(functions.map((f) => f.Properties.Handler).sort()).toEqual(
      Object.values(StepSpecs)
        .map((s) => `index.${s.handler}`)
        .sort(),
    );
    for (const f of functions) {
      expect(f.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        LoggingConfig: { LogFormat: "JSON" },
        TracingConfig: { Mode: "Active" },
      });
      const env = f.Properties.Environment.Variables as Record<string, unknown>;
      expect(env.NODE_OPTIONS).toBe("--enable-source-maps");
      expect(render(env.REKEY_BATCH_ROLE_ARN)).toBe(`<${batchRoleId}.Arn>`);
      expect(render(env.REKEY_WORK_BUCKET)).toBe(workBucketArn.replace(".Arn>", ">"));
      expect(f.Properties.FunctionName).toBeUndefined();
    }
  });

  it("gives the planning steps, the direct copier and the bucket check 15 minutes and every other step less", () => {
    const longest = [
      "index.sliceInventoryHandler",
      "index.writeManifestsHandler",
      "index.combinePlanHandler",
      "index.copyLargeObjectsHandler",
      "index.lookForNonCompliantObjectsHandler",
    ];
    for (const f of Object.values(template.findResources("AWS::Lambda::Function"))) {
      const timeout = f.Properties.Timeout as number;
      if (longest.includes(f.Properties.Handler)) expect(timeout).toBe(900);
      else expect(timeout).toBeLessThan(900);
    }
  });

  it("lets a large-object copy invocation return well before its function times out", () => {
    const timeoutMs = StepSpecs[StateNames.copyLargeObjects].timeout.toMilliseconds();
    // The step stops starting parts a minute before its budget (deadlineMarginMs); a minute more saves and returns.
    expect(LARGE_COPY_TIME_BUDGET_MS + 60_000).toBeLessThan(timeoutMs);
  });

  it("each export named as a handler exists in steps/runtime/lambda-handlers.ts", async () => {
    const handlers = (await import("../../steps/runtime/lambda-handlers.ts")) as Record<string, unknown>;
    for (const spec of Object.values(StepSpecs)) expect(typeof handlers[spec.handler], spec.handler).toBe("function");
  });
});

describe("the work bucket", () => {
  it("is versioned, encrypted, public-access-blocked, bucket-owner-enforced and retained", () => {
    template.hasResource("AWS::S3::Bucket", {
      DeletionPolicy: "Retain",
      Properties: {
        VersioningConfiguration: { Status: "Enabled" },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
        BucketName: Match.absent(),
      },
    });
  });

  it("expires old run artifacts, plans, inventory deliveries, noncurrent versions and abandoned uploads", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: "runs/",
            ExpirationInDays: 90,
            NoncurrentVersionExpiration: Match.anyValue(),
            Status: "Enabled",
          }),
          Match.objectLike({ Prefix: "plans/", ExpirationInDays: 90, Status: "Enabled" }),
          Match.objectLike({ Prefix: "inventory/", ExpirationInDays: 30, Status: "Enabled" }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 }, Status: "Enabled" }),
        ]),
      },
    });
  });

  it("accepts TLS only, and lets S3 Inventory deliver from the allowed buckets of this account", () => {
    const policy = Object.values(template.findResources("AWS::S3::BucketPolicy"))[0];
    const statements = ((policy?.Properties.PolicyDocument.Statement ?? []) as Record<string, unknown>[]).map((s) => ({
      ...normalizeStatement(s),
      Principal: s.Principal,
    }));
    expect(statements).toHaveLength(2);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Action: ["s3:*"],
        Principal: { AWS: "*" },
        Condition: { Bool: { "aws:SecureTransport": "false" } },
        Resource: [workBucketArn, `${workBucketArn}/*`],
      }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Sid: "AllowS3InventoryDelivery",
        Effect: "Allow",
        Action: ["s3:PutObject"],
        Principal: { Service: "s3.amazonaws.com" },
        Resource: [`${workBucketArn}/inventory/*`],
      }),
    );
    const inventory = statements.find((s) => s.Sid === "AllowS3InventoryDelivery");
    expect(((inventory?.Condition?.ArnLike?.["aws:SourceArn"] ?? []) as unknown[]).map(render)).toEqual(TARGET_BUCKETS);
    expect(inventory?.Condition?.StringEquals).toEqual({
      "aws:SourceAccount": "123456789012",
      "s3:x-amz-acl": "bucket-owner-full-control",
    });
  });
});

describe("alarms and outputs", () => {
  it("alarms on any failed or timed-out execution", () => {
    for (const metric of ["ExecutionsFailed", "ExecutionsTimedOut"]) {
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        Namespace: "AWS/States",
        MetricName: metric,
        Statistic: "Sum",
        Threshold: 1,
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        EvaluationPeriods: 1,
        TreatMissingData: "notBreaching",
        Dimensions: [{ Name: "StateMachineArn", Value: Match.anyValue() }],
      });
    }
    template.resourceCountIs("AWS::CloudWatch::Alarm", 2);
  });

  it("notifies an SNS topic when one is configured", () => {
    const topic = "arn:aws:sns:us-east-1:123456789012:rekey-alarms";
    const t = buildStack({ config: { alarmTopicArn: topic }, nag: false }).synth();
    const alarms = Object.values(t.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.map((a) => a.Properties.AlarmActions)).toEqual([[topic], [topic]]);
  });

  it("outputs the state machine ARN and the work bucket", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(render(outputs.StateMachineArn?.Value)).toMatch(/^<StateMachine\w+>$/);
    expect(render(outputs.WorkBucketName?.Value)).toBe(workBucketArn.replace(".Arn>", ">"));
    expect(render(outputs.BatchOperationsRoleArn?.Value)).toBe(`<${batchRoleId}.Arn>`);
  });
});

describe("the AWS calls the steps make", () => {
  /**
   * Every SDK command the deployed step code uses, with the IAM action(s) the stack grants for it. A step that
   * starts using a new command fails here until its permission is added to infra/constructs/step-permissions.ts (and to this table).
   */
  const KNOWN_COMMANDS: Record<string, string> = {
    AbortMultipartUploadCommand: "s3:AbortMultipartUpload",
    CompleteMultipartUploadCommand: "s3:PutObject",
    CopyObjectCommand: "s3:PutObject(Tagging) on the target, s3:GetObject(Version)(Tagging) on the source",
    CreateJobCommand: "s3:CreateJob (+ iam:PassRole)",
    CreateMultipartUploadCommand: "s3:PutObject",
    DeleteObjectCommand: "s3:DeleteObject (with If-Match: and s3:GetObject)",
    DeleteObjectsCommand: "s3:DeleteObject, per key",
    DescribeExecutionCommand: "states:DescribeExecution",
    ListExecutionsCommand: "states:ListExecutions",
    ListMapRunsCommand: "states:ListMapRuns",
    DescribeJobCommand: "s3:DescribeJob",
    DescribeKeyCommand: "kms:DescribeKey",
    GetKeyPolicyCommand: "kms:GetKeyPolicy",
    DescribeCustomKeyStoresCommand: "kms:DescribeCustomKeyStores",
    ListRolesCommand: "iam:ListRoles",
    ListUsersCommand: "iam:ListUsers",
    SimulatePrincipalPolicyCommand: "iam:SimulatePrincipalPolicy",
    GetBucketVersioningCommand: "s3:GetBucketVersioning",
    GetObjectLockConfigurationCommand: "s3:GetBucketObjectLockConfiguration",
    GetBucketReplicationCommand: "s3:GetReplicationConfiguration",
    GetBucketNotificationConfigurationCommand: "s3:GetBucketNotification",
    GetBucketLifecycleConfigurationCommand: "s3:GetLifecycleConfiguration",
    GetBucketOwnershipControlsCommand: "s3:GetBucketOwnershipControls",
    GetBucketPolicyCommand: "s3:GetBucketPolicy",
    GetBucketEncryptionCommand: "s3:GetEncryptionConfiguration",
    GetBucketInventoryConfigurationCommand: "s3:GetInventoryConfiguration",
    GetCallerIdentityCommand: "(no permission needed)",
    GetObjectCommand: "s3:GetObject",
    GetObjectTaggingCommand: "s3:GetObjectTagging (s3:GetObjectVersionTagging with a VersionId)",
    HeadBucketCommand: "s3:ListBucket",
    HeadObjectCommand: "s3:GetObject",
    ListJobsCommand: "s3:ListJobs",
    ListObjectsV2Command: "s3:ListBucket",
    ListObjectVersionsCommand: "s3:ListBucketVersions",
    ListPartsCommand: "s3:ListMultipartUploadParts",
    PutBucketEncryptionCommand: "s3:PutEncryptionConfiguration",
    PutObjectCommand: "s3:PutObject",
    UpdateJobStatusCommand: "s3:UpdateJobStatus",
    PutObjectTaggingCommand: "s3:PutObjectTagging (s3:PutObjectVersionTagging with a VersionId)",
    UploadPartCommand: "s3:PutObject",
    UploadPartCopyCommand: "s3:PutObject, and s3:GetObject(Version) on the source",
    // The athena engine; Athena acts with the caller's credentials, so a query also needs the Glue and S3 grants
    // of the writeManifests step (infra/constructs/step-permissions.ts).
    StartQueryExecutionCommand:
      "athena:StartQueryExecution (+ glue:* on the database, s3 on inventory/, athena-results/)",
    GetQueryExecutionCommand: "athena:GetQueryExecution",
    GetQueryResultsCommand: "athena:GetQueryResults (+ s3:GetObject on athena-results/)",
    StopQueryExecutionCommand: "athena:StopQueryExecution",
    SelectObjectContentCommand: "s3:GetObject",
  };

  it("are all known to the stack's policies", async () => {
    const { readFile } = await import("node:fs/promises");
    // The code the deployed Lambda functions run: steps/runtime/lambda-handlers.ts and what it imports, transitively.
    const seen = new Set<string>();
    const queue = [new URL("../../steps/runtime/lambda-handlers.ts", import.meta.url).href];
    const used = new Set<string>();
    while (queue.length) {
      const href = queue.pop() as string;
      if (seen.has(href)) continue;
      seen.add(href);
      const text = await readFile(new URL(href), "utf8");
      for (const m of text.matchAll(/new (\w+Command)\(/g)) used.add(m[1] as string);
      for (const m of text.matchAll(/from "(\.{1,2}\/[^"]+\.ts)"/g)) queue.push(new URL(m[1] as string, href).href);
    }
    expect(seen.size).toBeGreaterThan(10);
    expect([...used].filter((c) => !(c in KNOWN_COMMANDS))).toEqual([]);
  });
});
