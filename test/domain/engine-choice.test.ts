import { describe, expect, it } from "vitest";
import { EngineUnavailableError } from "../../contract/errors.ts";
import { chooseEngine, others, STREAM_AUTO_MAX_BYTES } from "../../steps/domain/engine-choice.ts";

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

  it("auto streams up to the limit one invocation reads, and queries with Athena above it", () => {
    expect(chooseEngine("auto", facts(STREAM_AUTO_MAX_BYTES))).toEqual({
      name: "stream",
      why: "auto: 3 data file(s), 2.0 GiB compressed, within the 2.0 GiB one invocation reads",
    });
    expect(chooseEngine("auto", facts(STREAM_AUTO_MAX_BYTES + 1))).toEqual({
      name: "athena",
      why: "auto: 3 data file(s), 2.0 GiB compressed, over the 2.0 GiB one invocation reads, so Athena queries it",
    });
  });

  it("auto streams a large inventory where no Athena is deployed, and says so", () => {
    expect(chooseEngine("auto", facts(STREAM_AUTO_MAX_BYTES + 1, false))).toEqual({
      name: "stream",
      why: "auto: 3 data file(s), 2.0 GiB compressed, over the 2.0 GiB one invocation reads, but this deployment has no Athena workgroup",
    });
  });

  it("reads Parquet and ORC with Athena only: auto chooses it, stream and select are refused with the fix", () => {
    expect(chooseEngine("auto", facts(1024, true, "Parquet"))).toEqual({
      name: "athena",
      why: "auto: 3 data file(s), 1.0 KiB compressed of Parquet, which only the athena engine reads",
    });
    expect(chooseEngine("athena", facts(1024, true, "ORC")).name).toBe("athena");
    expect(() => chooseEngine("select", facts(1024, true, "Parquet"))).toThrow(
      /The inventory is Parquet: its format is Parquet, and the select engine reads CSV inventories \(the athena engine reads Parquet\)\. Fix: Start the run with engine "athena"/,
    );
    expect(() => chooseEngine("stream", facts(1024, true, "ORC"))).toThrow(EngineUnavailableError);
    expect(() => chooseEngine("auto", facts(1024, false, "Parquet"))).toThrow(
      /only the athena engine reads, and this deployment has no Athena workgroup\. Fix: Deploy rekey with its Athena workgroup/,
    );
  });

  it("names the other engines", () => {
    expect(others("stream")).toBe('"select" or "athena"');
    expect(others("select")).toBe('"stream" or "athena"');
  });
});
