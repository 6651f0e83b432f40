/**
 * The fleet state machine (infra/constructs/fleet-state-machine.ts): workflow/fleet-definition.ts deployed as is,
 * beside the rekey state machine whose runs it starts, under the name `rekey fleet` looks for, and a role that may
 * start, follow and stop only those runs and its own children, and read and write only the fleet's files.
 */
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FLEET_MACHINE_SUFFIX, fleetKeys, RUN_STATE_MACHINE_PLACEHOLDER } from "../../contract/fleet.ts";
import { SYNC_EVENTS_RULE } from "../../infra/constructs/fleet-state-machine.ts";
import { fleetDefinitionJson } from "../../workflow/fleet-definition.ts";
import { allows, buildStack, logicalIdOf, render, roleStatements, type Statement, stateMachineIds } from "./helpers.ts";

const ACCOUNT_REGION = "us-east-1:123456789012";
const MANAGED_RULE = `arn:aws:events:${ACCOUNT_REGION}:rule/${SYNC_EVENTS_RULE}`;

let template: Template;
let ids: ReturnType<typeof stateMachineIds>;
let statements: Statement[];
let workBucketArn: string;
const fleetMachine = () => template.toJSON().Resources[ids.fleet];
const runs = () => `arn:aws:states:${ACCOUNT_REGION}:execution:<${ids.run}.Name>`;
const fleets = () => `arn:aws:states:${ACCOUNT_REGION}:execution:<${ids.fleet}.Name>`;

beforeAll(() => {
  const { stack, synth } = buildStack({ nag: false });
  template = synth();
  ids = stateMachineIds(stack);
  statements = roleStatements(template, ids.fleetRole);
  workBucketArn = `<${logicalIdOf(template, "AWS::S3::Bucket", () => true)}.Arn>`;
});

const grants = (sts: Statement[]) =>
  sts.flatMap((s) => s.Action.flatMap((a) => s.Resource.map((r) => `${a} ${r}${s.Condition ? " (conditional)" : ""}`)));
const each = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} ${r}`));

describe("the fleet state machine", () => {
  it("is one of the stack's two state machines, beside the rekey state machine", () => {
    expect(Object.keys(template.findResources("AWS::StepFunctions::StateMachine")).sort()).toEqual(
      [ids.run, ids.fleet].sort(),
    );
    expect(ids.fleetRole).not.toBe(ids.runRole);
  });

  it("runs workflow/fleet-definition.ts's JSON, the rekey state machine's ARN its one substitution", () => {
    const { DefinitionString, DefinitionSubstitutions } = fleetMachine().Properties;
    expect(DefinitionString).toBe(fleetDefinitionJson());
    expect(Object.keys(DefinitionSubstitutions)).toEqual([RUN_STATE_MACHINE_PLACEHOLDER]);
    expect(render(DefinitionSubstitutions[RUN_STATE_MACHINE_PLACEHOLDER])).toBe(`<${ids.run}>`);
    // Once substituted, the Task state starts runs of exactly that machine.
    const substituted = JSON.parse(
      (DefinitionString as string).replaceAll(`\${${RUN_STATE_MACHINE_PLACEHOLDER}}`, "<RUN_MACHINE_ARN>"),
    );
    const map = Object.values(substituted.States as Record<string, Record<string, unknown>>).find(
      (s) => s.Type === "Map",
    ) as { ItemProcessor: { States: Record<string, { Resource: string; Parameters: Record<string, unknown> }> } };
    const tasks = Object.values(map.ItemProcessor.States);
    expect(tasks.map((t) => [t.Resource, t.Parameters.StateMachineArn])).toEqual([
      ["arn:aws:states:::states:startExecution.sync:2", "<RUN_MACHINE_ARN>"],
    ]);
  });

  it("is named <stack>-fleet, which rekey fleet finds by name, and is output for REKEY_FLEET_STATE_MACHINE_ARN", () => {
    expect(fleetMachine().Properties.StateMachineName).toBe(`Rekey${FLEET_MACHINE_SUFFIX}`);
    const other = buildStack({ config: { stackName: "Rekey-Prod" }, nag: false });
    const otherIds = stateMachineIds(other.stack);
    expect(other.synth().toJSON().Resources[otherIds.fleet].Properties.StateMachineName).toBe("Rekey-Prod-fleet");
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    expect(render(outputs.FleetStateMachineArn?.Value)).toBe(`<${ids.fleet}>`);
    expect(outputs.FleetStateMachineArn?.Description).toContain("REKEY_FLEET_STATE_MACHINE_ARN");
  });

  it("is a standard machine that logs everything to its own log group, with a retention, and traces with X-Ray", () => {
    const props = fleetMachine().Properties;
    expect(props).toMatchObject({
      StateMachineType: "STANDARD",
      LoggingConfiguration: { Level: "ALL", IncludeExecutionData: true },
      TracingConfiguration: { Enabled: true },
    });
    const logGroup = render(props.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn);
    const runLogGroup = render(
      template.toJSON().Resources[ids.run].Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup
        .LogGroupArn,
    );
    expect(logGroup).not.toBe(runLogGroup);
    expect(template.toJSON().Resources[logGroup.replace(/^<(.*)\.Arn>$/, "$1")].Properties.RetentionInDays).toBe(90);
  });
});

describe("the fleet state machine's role", () => {
  it("grants exactly what a Distributed Map of startExecution.sync:2 tasks over the work bucket needs", () => {
    const ofFleet = grants(statements.filter((s) => s.Action.some((a) => /^(states|s3|events):/.test(a))));
    expect(ofFleet.sort()).toEqual(
      [
        // The Distributed Map: its children are executions of the fleet machine itself.
        `states:StartExecution <${ids.fleet}>`,
        `states:DescribeExecution ${fleets()}:*`,
        ...each(["states:DescribeExecution", "states:StopExecution"], [`${fleets()}/*`]),
        // startExecution.sync:2: start each bucket's run, follow it, stop it with its child, hear that it ended.
        `states:StartExecution <${ids.run}>`,
        ...each(["states:DescribeExecution", "states:StopExecution"], [`${runs()}:*`]),
        ...each(["events:PutTargets", "events:PutRule", "events:DescribeRule"], [MANAGED_RULE]),
        // The Map Run's items and results.
        `s3:GetObject ${workBucketArn}/fleets/*/buckets.json`,
        ...each(
          ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
          [`${workBucketArn}/fleets/*/results/*`],
        ),
      ].sort(),
    );
    // The rest is the default policy's X-Ray tracing and log delivery, which have no resource types.
    const rest = statements.filter((s) => !s.Action.some((a) => /^(states|s3|events):/.test(a)));
    for (const s of rest) {
      expect(s.Resource, s.Action.join()).toEqual(["*"]);
      for (const a of s.Action) expect(a).toMatch(/^(xray|logs):/);
    }
  });

  it("may start executions of the rekey state machine and of itself only", () => {
    expect(allows(statements, "states:StartExecution", `<${ids.run}>`)).toBe(true);
    expect(allows(statements, "states:StartExecution", `<${ids.fleet}>`)).toBe(true);
    const other = `arn:aws:states:${ACCOUNT_REGION}:stateMachine:Payroll`;
    expect(allows(statements, "states:StartExecution", other)).toBe(false);
    const starts = statements.filter((s) => s.Action.includes("states:StartExecution"));
    expect(starts.flatMap((s) => s.Resource).sort()).toEqual([`<${ids.fleet}>`, `<${ids.run}>`].sort());
  });

  it("may describe and stop only the runs it starts and its own executions' children", () => {
    const run = `${runs()}:example-data-bucket-20250101-chg42`;
    const child = `${fleets()}/0f1e2d3c:4a5b6c7d`;
    for (const action of ["states:DescribeExecution", "states:StopExecution"]) {
      expect(allows(statements, action, run), action).toBe(true);
      expect(allows(statements, action, child), action).toBe(true);
      // Not the runs' own slices, nor another machine's executions.
      expect(allows(statements, action, `${runs()}/Plan:0b1c`), action).toBe(false);
      expect(allows(statements, action, `arn:aws:states:${ACCOUNT_REGION}:execution:Payroll:run-1`), action).toBe(
        false,
      );
    }
    // A fleet execution itself may be described (as AWS's Distributed Map policy has it), not stopped by its role.
    const fleet = `${fleets()}:fleet-20250101-chg42`;
    expect(allows(statements, "states:DescribeExecution", fleet)).toBe(true);
    expect(allows(statements, "states:StopExecution", fleet)).toBe(false);
  });

  it("may read only a fleet's buckets file and write only its Map Run's results in the work bucket", () => {
    const work = (key: string) => `${workBucketArn}/${key}`;
    const keys = fleetKeys("fleet-20250101-chg42");
    const results = `${keys.resultsPrefix}/0f1e2d3c-aaaa-bbbb-cccc-000011112222/`;
    expect(allows(statements, "s3:GetObject", work(keys.itemsKey))).toBe(true);
    expect(allows(statements, "s3:PutObject", work(`${results}manifest.json`))).toBe(true);
    expect(allows(statements, "s3:PutObject", work(`${results}SUCCEEDED_0.json`))).toBe(true);
    expect(allows(statements, "s3:PutObject", work(keys.itemsKey))).toBe(false);
    expect(allows(statements, "s3:GetObject", work("fleets/fleet-20250101-chg42/other.json"))).toBe(false);
    expect(allows(statements, "s3:GetObject", work("runs/example-data-bucket/run/report.json"))).toBe(false);
    expect(allows(statements, "s3:GetObject", "arn:aws:s3:::example-data-bucket/data.csv")).toBe(false);
    const s3Actions = new Set(statements.flatMap((s) => s.Action).filter((a) => a.startsWith("s3:")));
    expect([...s3Actions].sort()).toEqual(
      ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"].sort(),
    );
  });

  it("may change the EventBridge rule Step Functions manages for .sync tasks, and no other rule", () => {
    const events = statements.filter((s) => s.Action.some((a) => a.startsWith("events:")));
    expect(events.flatMap((s) => s.Resource)).toEqual([MANAGED_RULE]);
    expect(allows(statements, "events:PutTargets", `arn:aws:events:${ACCOUNT_REGION}:rule/SomeoneElsesRule`)).toBe(
      false,
    );
  });
});
