import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { csvRecords } from "../../steps/domain/completion-report.ts";
import { Md5 } from "../../steps/domain/md5.ts";
import { recordSegments } from "../../steps/domain/report-segments.ts";

/** What "Verify results" needs to stop inside a report file and take it up again in another invocation. */

async function* chunks(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

async function collect(input: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const b of input) out.push(b);
  return out;
}

async function recordsOf(data: Buffer): Promise<string[][]> {
  const out: string[][] = [];
  for await (const r of csvRecords(chunks(data, data.length || 1), "t")) out.push(r.fields);
  return out;
}

describe("Md5", () => {
  it.each([0, 1, 55, 56, 63, 64, 65, 127, 1000, 70_001])(
    "equals node:crypto's digest of %i bytes, saved as JSON halfway",
    (n) => {
      const data = randomBytes(n);
      const first = new Md5().update(data.subarray(0, n >> 1));
      const resumed = new Md5(JSON.parse(JSON.stringify(first.save()))).update(data.subarray(n >> 1));
      expect(resumed.hex()).toBe(createHash("md5").update(data).digest("hex"));
    },
  );

  it("leaves its state as it was when asked for the digest", () => {
    const m = new Md5().update(Buffer.from("abc"));
    expect(m.hex()).toBe("900150983cd24fb0d6963f7d28e17f72");
    m.update(Buffer.from("def"));
    expect(m.hex()).toBe(createHash("md5").update("abcdef").digest("hex"));
  });
});

describe("recordSegments", () => {
  const csv = Buffer.from(
    'b,plain,,succeeded,200,,Successful\r\nb,"quoted\nkey ✓",,failed,500,InternalError,"a ""message"", with\r\nbreaks"\r\nb,last,,succeeded,200,,Successful',
  );

  it.each([1, 2, 3, 7, 64, 1024])("cuts only where a record ends, whatever the chunks (%i bytes)", async (size) => {
    for (const maxBytes of [1, 40, 64 * 1024]) {
      const segments = await collect(recordSegments(chunks(csv, size), maxBytes));
      expect(Buffer.concat(segments).equals(csv)).toBe(true);
      // Every prefix that ends at a cut parses to whole records: the same records as the file, one run after another.
      const parsed: string[][] = [];
      for (const s of segments) parsed.push(...(await recordsOf(s)));
      expect(parsed).toEqual(await recordsOf(csv));
    }
  });

  it("gives one record per segment when the segments may hold one byte", async () => {
    const segments = await collect(recordSegments(chunks(csv, 5), 1));
    expect(segments.map((s) => s.toString())).toEqual([
      "b,plain,,succeeded,200,,Successful\r\n",
      'b,"quoted\nkey ✓",,failed,500,InternalError,"a ""message"", with\r\nbreaks"\r\n',
      "b,last,,succeeded,200,,Successful",
    ]);
  });

  it("keeps whole records together up to the size asked for", async () => {
    const lines = Array.from(
      { length: 100 },
      (_, i) => `b,k${String(i).padStart(3, "0")},,succeeded,200,,Successful\n`,
    );
    const data = Buffer.from(lines.join(""));
    const segments = await collect(recordSegments(chunks(data, data.length), 400));
    expect(segments.every((s) => s.length <= 400 && s.toString().endsWith("\n"))).toBe(true);
    expect(segments.length).toBe(Math.ceil(lines.length / Math.floor(400 / (lines[0]?.length ?? 1))));
  });
});
