/**
 * The stack's CloudWatch dashboard (infra/constructs/dashboard.ts): its widgets read the state machine's and every
 * step function's metrics, the account's KMS usage metric, and the log lines the steps actually write.
 */
import { readFileSync } from "node:fs";
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { StateNames, type TaskStateName } from "../../contract/states.ts";
import {
  COPY_JOBS_CHECKED_MESSAGE,
  FINAL_REPORT_MESSAGE,
  KMS_SYMMETRIC_CALLS,
} from "../../infra/constructs/dashboard.ts";
import { StepSpecs } from "../../infra/constructs/step-function.ts";
import { buildStack, logicalIdOf, render, stateMachineIds } from "./helpers.ts";

interface Widget {
  type: string;
  x: number;
  y: number;
  properties: { title?: string; metrics?: unknown[][]; query?: string; markdown?: string };
}

let template: Template;
let widgets: Widget[];
let stateMachineId: string;
let fleetMachineId: string;
/** Each step's Lambda function logical id, by state. */
const functionIds = {} as Record<TaskStateName, string>;

beforeAll(() => {
  const { stack, synth } = buildStack({ nag: false });
  template = synth();
  const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
  expect(dashboards).toHaveLength(1);
  widgets = (JSON.parse(render(dashboards[0]?.Properties.DashboardBody)) as { widgets: Widget[] }).widgets;
  ({ run: stateMachineId, fleet: fleetMachineId } = stateMachineIds(stack));
  for (const [state, spec] of Object.entries(StepSpecs) as [TaskStateName, (typeof StepSpecs)[TaskStateName]][]) {
    functionIds[state] = logicalIdOf(template, "AWS::Lambda::Function", (p) => p.Handler === `index.${spec.handler}`);
  }
});

const titled = (title: RegExp) => {
  const found = widgets.filter((w) => title.test(w.properties.title ?? ""));
  expect(found, String(title)).toHaveLength(1);
  return found[0] as Widget;
};
/** A widget's metrics as "namespace metric dimension=value ..." lines (the options object left out). */
const metricLines = (w: Widget) =>
  (w.properties.metrics ?? []).map((m) => {
    const parts = m.filter((p) => typeof p === "string") as string[];
    const [namespace, name, ...dims] = parts;
    const pairs: string[] = [];
    for (let i = 0; i + 1 < dims.length; i += 2) pairs.push(`${dims[i]}=${dims[i + 1]}`);
    return [namespace, name, ...pairs].join(" ");
  });
const states = Object.keys(StepSpecs) as TaskStateName[];

describe("the dashboard", () => {
  it("is named as the stack, and its URL is a stack output", () => {
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "Rekey" });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(render(outputs.DashboardUrl?.Value)).toBe(
      "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=Rekey",
    );
  });

  it("shows the state machine's executions, the bucket runs, by state", () => {
    expect(metricLines(titled(/^Bucket runs by state$/))).toEqual(
      ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsAborted", "ExecutionsTimedOut"].map(
        (m) => `AWS/States ${m} StateMachineArn=<${stateMachineId}>`,
      ),
    );
    expect(metricLines(titled(/^Bucket run time/))).toEqual([
      `AWS/States ExecutionTime StateMachineArn=<${stateMachineId}>`,
      `AWS/States ExecutionTime StateMachineArn=<${stateMachineId}>`,
    ]);
  });

  it("shows the fleet state machine's executions by state, beside the runs'", () => {
    const fleets = titled(/^Fleets by state$/);
    expect(metricLines(fleets)).toEqual(
      ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsAborted"].map(
        (m) => `AWS/States ${m} StateMachineArn=<${fleetMachineId}>`,
      ),
    );
    const runs = titled(/^Bucket runs by state$/);
    expect(fleets.y).toBe(runs.y);
    expect(fleets.x).toBeGreaterThan(runs.x);
    // No other widget reads the fleet machine's metrics, and this one reads no run's.
    const readers = widgets.filter((w) => JSON.stringify(w.properties.metrics ?? []).includes(fleetMachineId));
    expect(readers).toEqual([fleets]);
  });

  it.each([
    [/^Step function errors$/, "Errors"],
    [/^Step function throttles$/, "Throttles"],
    [/^Step function duration/, "Duration"],
  ])("shows %s of every step function", (title, metric) => {
    expect(metricLines(titled(title))).toEqual(
      states.map((s) => `AWS/Lambda ${metric} FunctionName=<${functionIds[s]}>`),
    );
  });

  it("shows the time of every Task state, by the function it invokes", () => {
    expect(metricLines(titled(/^Time in each Task state/))).toEqual(
      states.map((s) => `AWS/States LambdaFunctionTime LambdaFunctionArn=<${functionIds[s]}.Arn>`),
    );
  });

  it("shows the account's KMS symmetric request rate, and says why there is no throttle metric", () => {
    const kms = titled(/^KMS symmetric/);
    const dims = Object.entries(KMS_SYMMETRIC_CALLS.dimensionsMap)
      .map(([k, v]) => `${k}=${v}`)
      .sort();
    // The expression first (no namespace), then the usage metric it divides.
    expect(metricLines(kms).map((l) => l.trim())).toEqual(["", `AWS/Usage CallCount ${dims.join(" ")}`]);
    expect(JSON.stringify(kms.properties.metrics)).toContain("calls / PERIOD(calls)");
    expect(widgets.some((w) => /no throttling metric/.test(w.properties.markdown ?? ""))).toBe(true);
  });

  it("counts Batch Operations tasks from what Check copy jobs logs, and lists final reports", () => {
    const logGroup = (state: TaskStateName) =>
      render(template.toJSON().Resources[functionIds[state]].Properties.LoggingConfig.LogGroup);
    const tasks = titled(/^Batch Operations tasks/).properties.query ?? "";
    expect(tasks).toContain(`SOURCE '${logGroup(StateNames.checkCopyJobs)}'`);
    expect(tasks).toContain(`filter message = "${COPY_JOBS_CHECKED_MESSAGE}"`);
    const reports = titled(/^Runs that wrote their final report$/).properties.query ?? "";
    expect(reports).toContain(`SOURCE '${logGroup(StateNames.writeFinalReport)}'`);
    expect(reports).toContain(`filter message = "${FINAL_REPORT_MESSAGE}"`);
    // The messages are the ones the steps log, with the fields the queries read.
    const source = (file: string) => readFileSync(new URL(`../../steps/handlers/${file}`, import.meta.url), "utf8");
    expect(source("check-copy-jobs.ts")).toContain(
      `log.info("${COPY_JOBS_CHECKED_MESSAGE}", { bucket: run.bucket, done, total, succeeded, failed,`,
    );
    expect(source("write-final-report.ts")).toContain(
      `log.info("${FINAL_REPORT_MESSAGE}", { bucket: run.bucket, outcome, reportLocation,`,
    );
  });
});
