import type { S3Client } from "@aws-sdk/client-s3";
import { InvalidInputError } from "../../contract/errors.ts";
import { type LargeObject, LargeObjectSchema } from "../../contract/large-objects.ts";
import { getText } from "./s3-io.ts";

/** Reads a plan's list of large objects (JSON Lines, one LargeObject per line). */
export async function readLargeObjectList(s3: S3Client, workBucket: string, listKey: string): Promise<LargeObject[]> {
  const text = await getText(s3, workBucket, listKey);
  const list: LargeObject[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let parsed: ReturnType<typeof LargeObjectSchema.safeParse>;
    try {
      parsed = LargeObjectSchema.safeParse(JSON.parse(line));
    } catch {
      parsed = LargeObjectSchema.safeParse(undefined);
    }
    if (!parsed.success) {
      throw new InvalidInputError(
        `s3://${workBucket}/${listKey} line ${i + 1} is not a large object ({"key","size","etag","storageClass"}).`,
        { fix: "Rewrite the list with one JSON object per line, then run the step again." },
      );
    }
    list.push(parsed.data);
  }
  return list;
}
