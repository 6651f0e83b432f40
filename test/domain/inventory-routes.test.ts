import { describe, expect, it } from "vitest";
import { InventoryFormatError } from "../../contract/errors.ts";
import {
  classificationOf,
  parseSqlRoute,
  partOfUnloadedFile,
  routeCounts,
  routedLines,
  routedTally,
} from "../../steps/domain/inventory-routes.ts";
import { RunTally } from "../../steps/domain/tally.ts";

/** Reading back what the athena engine's SQL wrote (the SQL itself runs in test/steps/athena-routes.test.ts). */

const HEADER = ["rekey_route", "_col1", "_col2", "_col3", "_col4", "_col5"];

describe("routes as the SQL writes them", () => {
  it("reads every route the SQL can write, and nothing else", () => {
    expect(parseSqlRoute("copy.STANDARD_IA")).toEqual({ kind: "copy", storageClass: "STANDARD_IA" });
    expect(parseSqlRoute("update-encryption")).toEqual({ kind: "update-encryption" });
    expect(parseSqlRoute("skipped.object-lock-governance")).toEqual({
      kind: "skipped",
      reason: "object-lock-governance",
    });
    expect(parseSqlRoute("not-current.delete-marker")).toEqual({ kind: "not-current", reason: "delete-marker" });
    for (const kind of ["step", "bad-flags", "other-bucket"] as const) expect(parseSqlRoute(kind)).toEqual({ kind });
    const misplaced = ["skipped.STANDARD", "not-current.archived", "copy.archived", "skipped.delete-marker"];
    for (const bad of [
      "copy.GLACIER",
      "copy.",
      "skipped.nope",
      "not-current.copy",
      "copy",
      "",
      "update",
      ...misplaced,
    ]) {
      expect(parseSqlRoute(bad), bad).toBeUndefined();
    }
  });

  it("names the plan part of a file UNLOAD wrote in a route's folder", () => {
    const folder = "athena-results/unload/abc/manifests";
    expect(partOfUnloadedFile(`${folder}/rekey_route=copy.STANDARD/q_00000.gz`)).toBe("copy.STANDARD");
    expect(partOfUnloadedFile(`${folder}/rekey_route=update-encryption/q_00001.gz`)).toBe("update-encryption");
    expect(partOfUnloadedFile("rekey_route=copy.GLACIER_IR/q.gz")).toBe("copy.GLACIER_IR");
    expect(partOfUnloadedFile(`${folder}/rekey_route=skipped.archived/q.gz`)).toBeUndefined();
    expect(partOfUnloadedFile(`${folder}/rekey_route=copy.STANDARD/deeper/q.gz`)).toBeUndefined();
    expect(partOfUnloadedFile(`${folder}/q_00000.gz`)).toBeUndefined();
    expect(partOfUnloadedFile(`${folder}/other_route=copy.STANDARD/q.gz`)).toBeUndefined();
  });

  it("reads the tally query's rows, samples decoded, and refuses what it cannot be", () => {
    const counts = routeCounts(
      [
        HEADER,
        ["skipped.archived", "NOT-SSE", "false", "3", "30", "a%20b a%2Bc"],
        ["copy.STANDARD", "NOT-SSE", "false", "2", "20", "k1 k2"],
        ["step", "SSE-KMS", "true", "4", "40", ""],
      ],
      "query q",
    );
    expect(counts).toEqual([
      {
        route: { kind: "skipped", reason: "archived" },
        encryption: "NOT-SSE",
        keyCheck: false,
        counted: { count: 3, bytes: 30 },
        samples: ["a b", "a+c"],
      },
      {
        route: { kind: "copy", storageClass: "STANDARD" },
        encryption: "NOT-SSE",
        keyCheck: false,
        counted: { count: 2, bytes: 20 },
        samples: ["k1", "k2"],
      },
      { route: { kind: "step" }, encryption: "SSE-KMS", keyCheck: true, counted: { count: 4, bytes: 40 }, samples: [] },
    ]);
    const refused = (row: (string | undefined)[]) => () => routeCounts([HEADER, row], "query q");
    expect(refused(["bad-flags", "", "false", "2", "0", ""])).toThrow(/2 row\(s\) have an IsLatest or IsDeleteMarker/);
    expect(refused(["other-bucket", "", "false", "1", "0", ""])).toThrow(/1 row\(s\) name another bucket/);
    for (const row of [
      ["copy.NOPE", "", "false", "1", "0", ""],
      ["step", "", "false", "-1", "0", ""],
      ["step", "", "false", "1.5", "0", ""],
      ["step", "", "false", "1", "x", ""],
      ["step", "", "false", "1", "0"],
    ]) {
      expect(refused(row), row.join(",")).toThrow(InventoryFormatError);
      expect(refused(row), row.join(",")).toThrow(/the count of routes reads/);
    }
  });

  it("turns the counts into the plan's tally, its other versions, updates by encryption and key checks skipped", () => {
    const routed = routedTally(
      routeCounts(
        [
          HEADER,
          ["copy.STANDARD", "NOT-SSE", "false", "2", "20", "k1 k2"],
          ["update-encryption", "SSE-S3", "false", "3", "30", ""],
          ["update-encryption", "SSE-KMS", "true", "4", "40", ""],
          ["update-encryption", "SSE-KMS", "false", "1", "5", ""],
          ["skipped.archived", "SSE-KMS", "true", "5", "50", "z y"],
          ["not-current.noncurrent-version", "NOT-SSE", "false", "6", "60", "n"],
          ["not-current.noncurrent-version", "SSE-S3", "false", "1", "1", ""],
          ["step", "SSE-KMS", "true", "7", "70", ""],
        ],
        "query q",
      ),
    );
    expect(routed.stepRows).toBe(7);
    expect(routed.keyChecksSkipped).toBe(9);
    expect(routed.updatesFrom).toEqual({ sseS3: { objects: 3, bytes: 30 }, sseKms: { objects: 5, bytes: 45 } });
    expect(routed.notCurrent).toEqual({ byReason: { "noncurrent-version": { count: 7, bytes: 61 } } });
    expect(routed.tally.seen).toEqual({ count: 15, bytes: 145 });
    expect(routed.tally.copyPlanned).toEqual({ STANDARD: { count: 2, bytes: 20 } });
    expect(routed.tally.updatePlanned).toEqual({ count: 8, bytes: 75 });
    expect(routed.tally.skipped).toEqual({ archived: { count: 5, bytes: 50 } });
    expect(routed.tally.skippedSamples).toEqual({ archived: ["y", "z"] });
    expect(routed.tally.notCurrent).toEqual({});
    // The lines Athena's files hold, part by part, as Combine the plan checks them.
    expect(routedLines(routed.tally)).toEqual(
      new Map([
        ["copy.STANDARD", 2],
        ["update-encryption", 8],
        ["skipped", 5],
      ]),
    );
    expect(routedLines(new RunTally().toJSON())).toEqual(new Map());
  });

  it("stands each counted route for the classification the tally records", () => {
    expect(classificationOf({ kind: "copy", storageClass: "ONEZONE_IA" })).toEqual({
      kind: "copy",
      storageClass: "ONEZONE_IA",
    });
    expect(classificationOf({ kind: "update-encryption" })).toEqual({ kind: "update-encryption" });
    expect(classificationOf({ kind: "skipped", reason: "sse-c" })).toEqual({
      kind: "skipped",
      reason: "sse-c",
      detail: "",
    });
    expect(classificationOf({ kind: "step" })).toBeUndefined();
    expect(classificationOf({ kind: "not-current", reason: "delete-marker" })).toBeUndefined();
  });
});
