import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CompletionReportError } from "../../contract/errors.ts";
import {
  classifyTaskFailure,
  csvRecords,
  parseReportManifest,
  type ReportRow,
  reportRows,
} from "../../steps/domain/completion-report.ts";
import { chunked, collect } from "./helpers.ts";

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/completion-report/${name}`, import.meta.url), "utf8");

async function rows(text: string, chunkSize = 5): Promise<ReportRow[]> {
  return collect(reportRows(chunked(Buffer.from(text, "utf8"), chunkSize), "results/x.csv"));
}

async function catchAsync(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected an error");
}

describe("parseReportManifest", () => {
  it("reads AWS's documented manifest.json", () => {
    const m = parseReportManifest(fixture("manifest-aws-example.json"));

    expect(m.format).toBe("Report_CSV_20180820");
    expect(m.reportCreationDate.toISOString()).toBe("2019-04-05T17:48:39.725Z");
    expect(m.results).toEqual([
      {
        taskExecutionStatus: "succeeded",
        bucket: "my-job-reports",
        md5: "83b1c4cbe93fc893f54053697e10fd6e",
        key: "job-f8fb9d89-a3aa-461d-bddc-ea6a1b131955/results/6217b0fab0de85c408b4be96aeaca9b195a7daa5.csv",
      },
      {
        taskExecutionStatus: "failed",
        bucket: "my-job-reports",
        md5: "22ee037f3515975f7719699e5c416eaa",
        key: "job-f8fb9d89-a3aa-461d-bddc-ea6a1b131955/results/b2ddad417e94331e9f37b44f1faf8c7ed5873f2e.csv",
      },
    ]);
    expect(m.reportSchema).toEqual([
      "Bucket",
      "Key",
      "VersionId",
      "TaskStatus",
      "ErrorCode",
      "HTTPStatusCode",
      "ResultMessage",
    ]);
  });

  it.each([
    ["not JSON", "nope", "not valid JSON"],
    [
      "another format",
      JSON.stringify({ ...JSON.parse(fixture("manifest-aws-example.json")), Format: "Report_CSV_2099" }),
      "Format",
    ],
    [
      "no Results",
      JSON.stringify({ Format: "Report_CSV_20180820", ReportCreationDate: "2019-04-05T17:48:39.725Z" }),
      "Results",
    ],
    [
      "an unknown task status",
      fixture("manifest-aws-example.json").replace('"succeeded"', '"partially"'),
      "TaskExecutionStatus",
    ],
  ])("rejects %s with CompletionReportError", (_label, text, expected) => {
    expect(() => parseReportManifest(text, "reports/job-1/manifest.json")).toThrow(CompletionReportError);
    expect(() => parseReportManifest(text, "reports/job-1/manifest.json")).toThrow(expected);
  });
});

describe("reportRows", () => {
  it("reads AWS's documented rows, including the Lambda error with quotes and commas", async () => {
    const result = await rows(fixture("results-aws-example.csv"));

    expect(result).toEqual([
      {
        bucket: "awsexamplebucket1",
        key: "image_14975",
        rawKey: "image_14975",
        taskStatus: "failed",
        httpStatus: 200,
        errorCode: "PermanentFailure",
        resultMessage:
          'Lambda returned function error: {"errorMessage":"2019-04-05T17:35:21.155Z 2845ca0d-38d9-4c4b-abcf-379dc749c452 Task timed out after 3.00 seconds"}',
      },
      {
        bucket: "awsexamplebucket1",
        key: "image_17775",
        rawKey: "image_17775",
        taskStatus: "succeeded",
        httpStatus: 200,
        resultMessage: "{u'CopySourceVersionId': 'xVR78haVKlRnurYofbTfYr3ufYbktF8h', ...}",
      },
    ]);
  });

  it("reads real-world rows (status in column 5) with CRLF endings", async () => {
    const text =
      "linz-topographic-archive,pfouquet/sub/directory/AS21.tiff.zst,886twyul.uJ3wIF3zzQG8196hf_SOCCW,succeeded,200,,Successful\r\n" +
      "xyzxyz,a%20b%2Bc,,failed,400,,Failure\r\n";

    const result = await rows(text, 3);

    expect(result).toEqual([
      {
        bucket: "linz-topographic-archive",
        key: "pfouquet/sub/directory/AS21.tiff.zst",
        rawKey: "pfouquet/sub/directory/AS21.tiff.zst",
        versionId: "886twyul.uJ3wIF3zzQG8196hf_SOCCW",
        taskStatus: "succeeded",
        httpStatus: 200,
        resultMessage: "Successful",
      },
      {
        bucket: "xyzxyz",
        key: "a b+c",
        rawKey: "a%20b%2Bc",
        taskStatus: "failed",
        httpStatus: 400,
        resultMessage: "Failure",
      },
    ]);
  });

  it("also reads rows in the order ReportSchema states (error code in column 5)", async () => {
    const [row] = await rows("b,k,,failed,AccessDenied,403,Access Denied\n");

    expect(row).toMatchObject({ httpStatus: 403, errorCode: "AccessDenied", resultMessage: "Access Denied" });
  });

  it("keeps newlines inside quoted messages and a key that is not valid encoding as written", async () => {
    const result = await rows(
      'b,100%,,failed,500,InternalError,"line one\nline two, with comma"\nb,k2,,succeeded,200,,ok',
    );

    expect(result.map((r) => [r.key, r.resultMessage])).toEqual([
      ["100%", "line one\nline two, with comma"],
      ["k2", "ok"],
    ]);
  });

  it("reads a Readable of strings", async () => {
    const result = await collect(reportRows(Readable.from(["b,k,,succeeded,200,,ok\n"])));

    expect(result).toHaveLength(1);
  });

  it.each([
    ["too few columns", "b,k,,succeeded,200,ok\n", 1, "6 field(s)"],
    ["an unknown status", "b,k,,done,200,,ok\n", 1, "TaskStatus"],
    ["an unterminated quote", 'b,k,,succeeded,200,,ok\nb,k,,failed,500,,"cut', 2, "ends inside a quoted field"],
    ["a stray quote", 'b,k"x,,succeeded,200,,ok\n', 1, "double quote"],
  ])("raises CompletionReportError for %s, naming file and line", async (_label, text, line, expected) => {
    const e = await catchAsync(rows(text));

    expect(e).toBeInstanceOf(CompletionReportError);
    expect((e as CompletionReportError).line).toBe(line);
    expect((e as Error).message).toContain("results/x.csv");
    expect((e as Error).message).toContain(expected);
  });
});

describe("csvRecords", () => {
  it("reports the line each record starts on", async () => {
    const records = await collect(csvRecords(chunked(Buffer.from('a,"x\ny"\nb,c\n'), 2), "f"));

    expect(records).toEqual([
      { fields: ["a", "x\ny"], line: 1 },
      { fields: ["b", "c"], line: 3 },
    ]);
  });
});

describe("classifyTaskFailure", () => {
  it.each<[Partial<ReportRow>, string]>([
    [{ httpStatus: 404, errorCode: "NoSuchKey" }, "gone"],
    [{ httpStatus: 404, errorCode: "PermanentFailure", resultMessage: "NoSuchVersion: version gone" }, "gone"],
    [{ httpStatus: 404 }, "gone"],
    [{ httpStatus: 404, errorCode: "NoSuchBucket" }, "other"],
    [{ httpStatus: 503, errorCode: "SlowDown" }, "throttled-or-transient"],
    [{ httpStatus: 500, errorCode: "InternalError" }, "throttled-or-transient"],
    [{ httpStatus: 400, errorCode: "RequestTimeout" }, "throttled-or-transient"],
    [{ httpStatus: 429 }, "throttled-or-transient"],
    [{ httpStatus: 400, errorCode: "KMS.ThrottlingException" }, "throttled-or-transient"],
    [{ httpStatus: 403, errorCode: "AccessDenied" }, "access-or-kms"],
    [{ httpStatus: 400, errorCode: "KMS.DisabledException" }, "access-or-kms"],
    [
      { httpStatus: 400, errorCode: "PermanentFailure", resultMessage: "KMS.NotFoundException: key not found" },
      "access-or-kms",
    ],
    [{ httpStatus: 403, errorCode: "InvalidObjectState" }, "object-state"],
    [{ httpStatus: 412, errorCode: "PreconditionFailed" }, "precondition"],
    [{ httpStatus: 412 }, "precondition"],
    [{ httpStatus: 400, errorCode: "InvalidRequest" }, "other"],
    [{ httpStatus: 200, errorCode: "PermanentFailure", resultMessage: "Lambda returned function error" }, "other"],
  ])("classifies %j as %s", (failure, expected) => {
    expect(classifyTaskFailure({ resultMessage: "", ...failure })).toBe(expected);
  });
});
