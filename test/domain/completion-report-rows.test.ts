import { describe, expect, it } from "vitest";
import { CompletionReportError } from "../../contract/errors.ts";
import {
  type CsvRecord,
  classifyTaskFailure,
  csvRecords,
  type ReportRow,
  reportRows,
  rowCheck,
} from "../../steps/domain/completion-report.ts";
import { chunked, collect } from "./helpers.ts";

// A completion report can be gigabytes: it is read in chunks, and every chunk boundary (inside a quoted field,
// between a quote and its double, between CR and LF, inside a UTF-8 character) must give the same records.

const records = (text: string, size: number): Promise<CsvRecord[]> =>
  collect(csvRecords(chunked(Buffer.from(text, "utf8"), size), "r.csv"));
const strings = async function* (parts: string[]): AsyncGenerator<string> {
  yield* parts;
};

async function refusal(p: Promise<unknown>): Promise<CompletionReportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CompletionReportError);
    return e as CompletionReportError;
  }
  throw new Error("expected the CSV to be refused");
}

describe("csvRecords at every chunk size", () => {
  const TEXT = [
    'b,"a ""quoted"" key","multi\nline",é€😀,,""',
    "",
    'b,plain,"x""",cr\rinside,"",last\r',
    '"","",',
    "end",
  ].join("\n");
  const EXPECTED: CsvRecord[] = [
    { fields: ["b", 'a "quoted" key', "multi\nline", "é€😀", "", ""], line: 1 },
    { fields: ["b", "plain", 'x"', "cr\rinside", "", "last"], line: 4 },
    { fields: ["", "", ""], line: 5 },
    { fields: ["end"], line: 6 },
  ];

  it("gives the same records and lines however the bytes are cut", async () => {
    for (let size = 1; size <= Buffer.byteLength(TEXT) + 1; size++) {
      expect(await records(TEXT, size), `chunks of ${size} bytes`).toStrictEqual(EXPECTED);
    }
  });

  it("reads string chunks cut between a quote and its double, and between CR and LF", async () => {
    expect(await collect(csvRecords(strings(['a,"x"', '"y"\r', "\nb"]), "r.csv"))).toStrictEqual([
      { fields: ["a", 'x"y'], line: 1 },
      { fields: ["b"], line: 2 },
    ]);
    expect(await collect(csvRecords(strings(['"x"', ",z"]), "r.csv"))).toStrictEqual([{ fields: ["x", "z"], line: 1 }]);
  });

  it("keeps a CR that ends the file, and a lone quoted empty field as a record", async () => {
    expect(await records("a\r", 1)).toStrictEqual([{ fields: ["a\r"], line: 1 }]);
    expect(await records('""', 1)).toStrictEqual([{ fields: [""], line: 1 }]);
    expect(await records("\n\n", 1)).toStrictEqual([]);
  });
});

describe("csvRecords refuses a damaged file, naming the line", () => {
  it("text after a closing quote, also when the quote ends a chunk", async () => {
    for (let size = 1; size <= 6; size++) {
      expect((await refusal(records('"x"y,b', size))).problem, `chunks of ${size} bytes`).toBe(
        "r.csv line 1: text follows a closing double quote.",
      );
    }
  });

  it("text after a closing quote", async () => {
    const e = await refusal(records('a\n"x"y,b', 3));
    expect(e.problem).toBe("r.csv line 2: text follows a closing double quote.");
    expect(e.fix).toBe("The results CSV is damaged; download it again and compare its MD5 with the report manifest.");
  });

  it("a quote inside an unquoted field", async () => {
    const e = await refusal(records('ab"c', 2));
    expect(e.problem).toBe("r.csv line 1: a double quote appears inside an unquoted field.");
    expect((await refusal(records('"a""b"""x",y', 100))).problem).toBe(
      "r.csv line 1: text follows a closing double quote.",
    );
  });

  it("a file that ends inside a quoted field, at the line the record began", async () => {
    const e = await refusal(records('ok\n"open\nstill open', 4));
    expect(e.problem).toBe("r.csv line 2: the file ends inside a quoted field.");
    expect(e.fix).toBe("The results CSV is truncated; download it again and compare its MD5 with the report manifest.");
  });
});

const ROW_FIX =
  "Check that the file is a Batch Operations results CSV (Report_CSV_20180820); if it is, download it again and compare its MD5 with the report manifest.";
const readRows = (text: string, source?: string): Promise<ReportRow[]> =>
  collect(reportRows(strings([text]), ...(source === undefined ? [] : [source])));

describe("reportRows", () => {
  it("reads the HTTP status from whichever of columns 5 and 6 holds one, and leaves out what is empty", async () => {
    expect(await readRows("b,k,,failed,403,AccessDenied,denied\nb,k2,v,failed,SlowDown,503,slow\n")).toStrictEqual([
      {
        bucket: "b",
        key: "k",
        rawKey: "k",
        taskStatus: "failed",
        httpStatus: 403,
        errorCode: "AccessDenied",
        resultMessage: "denied",
      },
      {
        bucket: "b",
        key: "k2",
        rawKey: "k2",
        versionId: "v",
        taskStatus: "failed",
        httpStatus: 503,
        errorCode: "SlowDown",
        resultMessage: "slow",
      },
    ]);
    expect(await readRows("b,k,,Succeeded,,,\nb,k,,failed,,Oops,m\nb,k,,failed,Oops,,m\n")).toStrictEqual([
      { bucket: "b", key: "k", rawKey: "k", taskStatus: "succeeded", resultMessage: "" },
      { bucket: "b", key: "k", rawKey: "k", taskStatus: "failed", errorCode: "Oops", resultMessage: "m" },
      { bucket: "b", key: "k", rawKey: "k", taskStatus: "failed", errorCode: "Oops", resultMessage: "m" },
    ]);
  });

  it("keeps unquoted commas after column 7 in the message", async () => {
    const [row] = await readRows("b,k,,failed,500,InternalError,one, two,three\n");
    expect(row?.resultMessage).toBe("one, two,three");
  });

  it("takes only a whole three-digit code from 100 to 599 as a status", async () => {
    for (const [c5, c6] of [
      ["2000", "x"],
      ["x200", "y"],
      ["600", "y"],
      ["20", "y"],
    ]) {
      const e = await refusal(readRows(`b,k,,failed,${c5},${c6},m\n`, "results/1.csv"));
      expect(e.problem).toBe(
        `results/1.csv line 1: neither column 5 ("${c5}") nor column 6 ("${c6}") is an HTTP status code.`,
      );
      expect(e.fix).toBe(ROW_FIX);
    }
  });

  it("refuses a row without bucket or key, with too few fields, or with another status, naming the source", async () => {
    for (const text of ["b,,,failed,404,NoSuchKey,m\n", ",k,,failed,404,NoSuchKey,m\n"]) {
      const e = await refusal(readRows(text));
      expect(e.problem).toBe("completion report line 1: the row has no bucket or key.");
      expect(e.fix).toBe(ROW_FIX);
    }
    expect((await refusal(readRows("b,k,,failed,404,x\n"))).problem).toBe(
      "completion report line 1: the row has 6 field(s); a completion report row has 7.",
    );
    expect((await refusal(readRows("b,k,,done,200,,\n"))).problem).toBe(
      'completion report line 1: TaskStatus is "done", expected succeeded or failed.',
    );
  });
});

describe("rowCheck", () => {
  const succeeded = (resultMessage: string): ReportRow => ({
    bucket: "b",
    key: "NoSuchKey",
    rawKey: "NoSuchKey",
    taskStatus: "succeeded",
    httpStatus: 200,
    resultMessage,
  });
  const refused: ReportRow = {
    ...succeeded(""),
    taskStatus: "failed",
    httpStatus: 412,
    errorCode: "PreconditionFailed",
  };

  it("checks only failed rows, even when a succeeded row's message names an error code", () => {
    expect(rowCheck("copy", succeeded('{"Key":"NoSuchKey","PreconditionFailed":false}'))).toBeUndefined();
    expect(rowCheck("copy", { ...succeeded(""), taskStatus: "failed", httpStatus: 404, errorCode: "NoSuchKey" })).toBe(
      "confirm-gone",
    );
  });

  it("reads a refused 412 as changed since planning for copies only: encryption updates carry no such condition", () => {
    expect(rowCheck("copy", refused)).toBe("changed-since-planning");
    expect(rowCheck("update-encryption", refused)).toBeUndefined();
  });
});

describe("classifyTaskFailure", () => {
  const failure = (httpStatus: number | undefined, errorCode: string | undefined, resultMessage = "") =>
    classifyTaskFailure({
      ...(httpStatus === undefined ? {} : { httpStatus }),
      ...(errorCode ? { errorCode } : {}),
      resultMessage,
    });

  it("reads throttling codes with and without the Exception suffix", () => {
    for (const code of ["TooManyRequests", "TooManyRequestsException", "Throttling", "ThrottlingException"]) {
      expect(failure(400, code), code).toBe("throttled-or-transient");
    }
  });

  it("reads a gone object by its code whatever the status, and a version gone as gone", () => {
    expect(failure(400, "NoSuchVersion")).toBe("gone");
    expect(failure(200, "PermanentFailure", "NoSuchKey: The specified key does not exist.")).toBe("gone");
  });

  it("reads 500 and above as transient, 499 and other codes as other", () => {
    expect(failure(500, undefined)).toBe("throttled-or-transient");
    expect(failure(499, undefined)).toBe("other");
    expect(failure(undefined, undefined)).toBe("other");
    expect(failure(400, "InvalidRequest")).toBe("other");
  });
});
