import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CompletionReportError } from "../../contract/errors.ts";
import { parseReportManifest } from "../../steps/domain/completion-report.ts";

// The exact words an operator reads when a job's completion report manifest cannot be read.
const AWS_EXAMPLE = readFileSync(
  new URL("../fixtures/completion-report/manifest-aws-example.json", import.meta.url),
  "utf8",
);
const SOURCE = "reports/job-1/manifest.json";
const FIX =
  "Point rekey at <report-prefix>/job-<job-id>/manifest.json of a finished job; if the job failed before running any task, it has no report.";
const withFields = (overrides: Record<string, unknown>) => JSON.stringify({ ...JSON.parse(AWS_EXAMPLE), ...overrides });

function refusal(text: string, source?: string): { problem: string; fix: string; cause: unknown } {
  try {
    if (source === undefined) parseReportManifest(text);
    else parseReportManifest(text, source);
  } catch (e) {
    expect(e).toBeInstanceOf(CompletionReportError);
    const { problem, fix, cause, file } = e as CompletionReportError;
    const where = source ?? "manifest.json";
    expect(file).toBe(where);
    expect(problem.startsWith(`${where}: `)).toBe(true);
    return { problem: problem.slice(where.length + 2), fix, cause };
  }
  throw new Error("expected the manifest to be refused");
}

describe("parseReportManifest refuses what it cannot read, saying where and what to do", () => {
  it("not JSON, named manifest.json when no source is given", () => {
    const e = refusal("nope");
    expect(e).toMatchObject({ problem: "the completion report manifest is not valid JSON.", fix: FIX });
    expect(e.cause).toBeInstanceOf(SyntaxError);
  });

  it("an unexpected shape, naming each field at fault", () => {
    const e = refusal(withFields({ Results: [{ Bucket: "b" }] }), SOURCE);
    expect(e.fix).toBe(FIX);
    expect(e.problem).toMatch(
      /^the completion report manifest has an unexpected shape \(Results\.0\.TaskExecutionStatus: [^;]+; Results\.0\.MD5Checksum: [^;]+; Results\.0\.Key: [^;]+\)\.$/,
    );
    expect(refusal("[]", SOURCE).problem).toMatch(
      /^the completion report manifest has an unexpected shape \(\(root\): .+\)\.$/,
    );
  });

  it("another format, with the fix that names the one rekey reads", () => {
    expect(refusal(withFields({ Format: "Report_CSV_2099" }), SOURCE)).toMatchObject({
      problem: 'Format is "Report_CSV_2099"; rekey reads Report_CSV_20180820.',
      fix: "Create jobs with Report.Format Report_CSV_20180820.",
    });
  });

  it("a creation date that is not a date", () => {
    expect(refusal(withFields({ ReportCreationDate: "yesterday" }), SOURCE)).toMatchObject({
      problem: 'ReportCreationDate "yesterday" is not a date.',
      fix: FIX,
    });
  });

  it("a task status other than succeeded or failed, by its index", () => {
    const results = JSON.parse(AWS_EXAMPLE).Results;
    const text = withFields({ Results: [results[0], { ...results[1], TaskExecutionStatus: "partially" }] });
    expect(refusal(text, SOURCE)).toMatchObject({
      problem: 'Results[1].TaskExecutionStatus is "partially", expected succeeded or failed.',
      fix: FIX,
    });
  });

  it("reads task statuses in any case and the schema's column names trimmed", () => {
    const results = JSON.parse(AWS_EXAMPLE).Results;
    const m = parseReportManifest(
      withFields({
        Results: [
          { ...results[0], TaskExecutionStatus: "SUCCEEDED" },
          { ...results[1], TaskExecutionStatus: "Failed" },
        ],
        ReportSchema: "Bucket,  Key ,VersionId",
      }),
      SOURCE,
    );
    expect(m.results.map((r) => r.taskExecutionStatus)).toStrictEqual(["succeeded", "failed"]);
    expect(m.reportSchema).toStrictEqual(["Bucket", "Key", "VersionId"]);
  });
});
