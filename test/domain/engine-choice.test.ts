import { describe, expect, it } from "vitest";
import { EngineUnavailableError } from "../../contract/errors.ts";
import {
  chooseEngine,
  inventoryFormatProblem,
  others,
  STREAM_AUTO_MAX_BYTES,
} from "../../steps/domain/engine-choice.ts";

const facts = (dataBytes: number, athenaDeployed = true, fileFormat: "CSV" | "Parquet" | "ORC" = "CSV") => ({
  fileFormat,
  dataFiles: 3,
  dataBytes,
  athenaDeployed,
});

describe("chooseEngine", () => {
  it("uses an engine asked for by name, and says so with the inventory's size", () => {
    expect(chooseEngine("select", facts(1024))).toEqual({
      name: "select",
      why: "asked for in the run request (3 data file(s), 1.0 KiB compressed)",
    });
    expect(chooseEngine("stream", facts(STREAM_AUTO_MAX_BYTES * 10)).name).toBe("stream");
    expect(chooseEngine("athena", facts(1)).name).toBe("athena");
  });

  it("refuses athena where the deployment has none, naming the other engines", () => {
    expect(() => chooseEngine("athena", facts(1, false))).toThrow(EngineUnavailableError);
    expect(() => chooseEngine("athena", facts(1, false))).toThrow(/engine "stream" or "select"/);
    expect(chooseEngine("select", facts(1, false)).name).toBe("select");
  });

  it("auto streams up to its limit, and queries with Athena above it", () => {
    expect(chooseEngine("auto", facts(STREAM_AUTO_MAX_BYTES))).toEqual({
      name: "stream",
      why: "auto: 3 data file(s), 2.0 GiB compressed, up to the 2.0 GiB auto reads in the step",
    });
    expect(chooseEngine("auto", facts(STREAM_AUTO_MAX_BYTES + 1))).toEqual({
      name: "athena",
      why: "auto: 3 data file(s), 2.0 GiB compressed, over the 2.0 GiB auto reads in the step, so Athena queries it first",
    });
  });

  it("auto streams a large inventory where no Athena is deployed, and says so", () => {
    expect(chooseEngine("auto", facts(STREAM_AUTO_MAX_BYTES + 1, false))).toEqual({
      name: "stream",
      why: "auto: 3 data file(s), 2.0 GiB compressed, over the 2.0 GiB auto reads in the step, but this deployment has no Athena workgroup",
    });
  });

  it("reads Parquet in the step (stream) or with Athena, ORC with Athena only; select reads CSV only", () => {
    // Parquet: auto decides by size as for CSV, without Athena too.
    expect(chooseEngine("auto", facts(1024, true, "Parquet"))).toEqual({
      name: "stream",
      why: "auto: 3 data file(s), 1.0 KiB compressed, up to the 2.0 GiB auto reads in the step",
    });
    expect(chooseEngine("auto", facts(1024, false, "Parquet")).name).toBe("stream");
    expect(chooseEngine("auto", facts(3 * 1024 ** 3, true, "Parquet")).name).toBe("athena");
    expect(chooseEngine("stream", facts(1024, false, "Parquet")).name).toBe("stream");
    expect(chooseEngine("auto", facts(1024, true, "ORC"))).toEqual({
      name: "athena",
      why: "auto: 3 data file(s), 1.0 KiB compressed of ORC, which only the athena engine reads",
    });
    expect(chooseEngine("athena", facts(1024, true, "ORC")).name).toBe("athena");
    expect(() => chooseEngine("select", facts(1024, true, "Parquet"))).toThrow(
      /The inventory is Parquet: its format is Parquet, and the select engine reads CSV inventories \(the stream and athena engines read Parquet\)\. Fix: Start the run with engine "stream" or "athena" \(or "auto"\)\./,
    );
    expect(() => chooseEngine("select", facts(1024, false, "Parquet"))).toThrow(
      /Fix: Start the run with engine "stream" or "athena"/,
    );
    expect(() => chooseEngine("stream", facts(1024, true, "ORC"))).toThrow(
      /the stream engine reads CSV and Parquet inventories \(the athena engine reads ORC\)\. Fix: Start the run with engine "athena" \(or "auto"\)\./,
    );
    expect(() => chooseEngine("select", facts(1024, true, "ORC"))).toThrow(/\(the athena engine reads ORC\)/);
    expect(() => chooseEngine("auto", facts(1024, false, "ORC"))).toThrow(
      /only the athena engine reads, and this deployment has no Athena workgroup\. Fix: Deploy rekey with its Athena workgroup.*CSV or Parquet/,
    );
  });

  it("names the other engines", () => {
    expect(others("stream")).toBe('"select" or "athena"');
    expect(others("select")).toBe('"stream" or "athena"');
  });

  it("says exactly what to do where athena is asked for and not deployed", () => {
    expect(() => chooseEngine("athena", facts(1, false))).toThrow(
      new EngineUnavailableError("The athena engine was asked for, but this deployment has no Athena workgroup.", {
        fix: 'Deploy rekey with its Athena workgroup and Glue database (infra/), or start the run with engine "stream" or "select".',
      }),
    );
  });

  it("says athena was asked for, not chosen, for a Parquet or ORC inventory named so", () => {
    for (const format of ["Parquet", "ORC"] as const) {
      expect(chooseEngine("athena", facts(1024, true, format)).why).toBe(
        "asked for in the run request (3 data file(s), 1.0 KiB compressed)",
      );
    }
  });
});

describe("inventoryFormatProblem", () => {
  it("has nothing against CSV, whatever the engine and deployment", () => {
    for (const engine of ["auto", "stream", "select", "athena"] as const) {
      expect(inventoryFormatProblem("CSV", engine, false)).toBeUndefined();
    }
    expect(inventoryFormatProblem("Parquet", "auto", false)).toBeUndefined();
    expect(inventoryFormatProblem("Parquet", "stream", false)).toBeUndefined();
    expect(inventoryFormatProblem("ORC", "athena", true)).toBeUndefined();
    expect(inventoryFormatProblem("ORC", "auto", true)).toBeUndefined();
  });

  it("names a format S3 Inventory does not write, or none", () => {
    expect(inventoryFormatProblem("JSON", "auto", true)).toBe(
      "its format is JSON, and S3 Inventory writes CSV, Parquet or ORC",
    );
    expect(inventoryFormatProblem(undefined, "auto", true)).toBe(
      "its format is unset, and S3 Inventory writes CSV, Parquet or ORC",
    );
  });
});
