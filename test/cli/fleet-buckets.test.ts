import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fleetBuckets, orderFleet } from "../../cli/fleet-buckets.ts";

async function file(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), "rekey-fleet-")), "buckets");
  await writeFile(path, text);
  return path;
}

describe("fleetBuckets", () => {
  it("reads a list: one bucket per line, an optional inventory configuration, comments and blanks ignored", async () => {
    const path = await file("# pilot\nlogs-a\n\n  images-b  daily-inv  # the big one\nlogs-a\n");
    const { candidates, excluded } = await fleetBuckets(["extra-c"], path);
    expect(candidates).toEqual([
      { bucket: "extra-c" },
      { bucket: "logs-a" },
      { bucket: "images-b", inventoryConfig: "daily-inv" },
    ]);
    expect(excluded).toEqual([]);
  });

  it("takes rekey scan's JSON, leaving out compliant and blocked buckets with the reason", async () => {
    const scan = [
      { bucket: "needs-a", verdict: "needs-run", inventoryConfiguration: "inv", objects: 10, bytes: 100 },
      { bucket: "done-b", verdict: "compliant", inventoryConfiguration: null },
      { bucket: "locked-c", verdict: "blocked", why: "preflight would refuse a run: object-lock-compliance-default" },
      { bucket: "default-d", verdict: "needs-default-encryption", objects: 0 },
      { bucket: "unknown-e", verdict: "unknown" },
      { bucket: "counted-f", verdict: "needs-run", inventoryCounts: { current: { objects: 5, bytes: 50 } } },
    ];
    const { candidates, excluded } = await fleetBuckets([], await file(JSON.stringify(scan)));
    expect(candidates).toEqual([
      { bucket: "needs-a", inventoryConfig: "inv", objects: 10, bytes: 100 },
      { bucket: "default-d", objects: 0 },
      { bucket: "unknown-e" },
      { bucket: "counted-f", objects: 5, bytes: 50 },
    ]);
    expect(excluded.map((e) => e.bucket)).toEqual(["done-b", "locked-c"]);
    expect(excluded[1]?.reason).toContain("object-lock-compliance-default");
  });

  it("refuses a malformed bucket name, a malformed line and JSON that is not scan's, naming the problem", async () => {
    await expect(fleetBuckets(["Bad_Bucket"], undefined)).rejects.toThrow(/Bad_Bucket/);
    await expect(fleetBuckets([], await file("a-bucket inv extra\n"))).rejects.toThrow(/line 1/);
    await expect(fleetBuckets([], await file('{"Buckets": []}'))).rejects.toThrow(/rekey scan --output json/);
    await expect(fleetBuckets([], await file("[{}]"))).rejects.toThrow(/entry 0 has no "bucket"/);
    await expect(fleetBuckets([], await file("[1,"))).rejects.toThrow(/not valid JSON/);
    await expect(fleetBuckets([], "/nonexistent/rekey-buckets")).rejects.toThrow(/--buckets-file/);
    await expect(fleetBuckets([], undefined)).rejects.toThrow(/No bucket given/);
  });
});

describe("orderFleet", () => {
  const buckets = [
    { bucket: "big", bytes: 5_000, objects: 50 },
    { bucket: "unknown-1" },
    { bucket: "small", bytes: 10, objects: 1 },
    { bucket: "empty", objects: 0 },
    { bucket: "unknown-2" },
    { bucket: "mid", bytes: 500, objects: 5 },
  ];
  it("puts the smallest first for a pilot, buckets of unknown size last in listed order", () => {
    expect(orderFleet(buckets, "smallest-first").map((b) => b.bucket)).toEqual([
      "empty",
      "small",
      "mid",
      "big",
      "unknown-1",
      "unknown-2",
    ]);
  });
  it("puts the largest first, unknown still last", () => {
    expect(orderFleet(buckets, "largest-first").map((b) => b.bucket)).toEqual([
      "big",
      "mid",
      "small",
      "empty",
      "unknown-1",
      "unknown-2",
    ]);
  });
  it("keeps the listed order when asked", () => {
    expect(orderFleet(buckets, "listed")).toEqual(buckets);
  });
});
