import { InvariantViolatedError } from "../../contract/errors.ts";

/** The spot check of "Verify results": a random sample of re-encrypted objects, HEADed one by one. */

/**
 * A few sampled objects deleted since their copy are normal; many mean rekey is HEADing keys that do not exist
 * (for example a completion report whose key encoding it misread), and then the check proves nothing.
 */
export function notFoundProblem(checked: number, notFound: number): boolean {
  return notFound > 5 && notFound > checked / 10;
}

/**
 * A uniform random sample of at most `size` items from a stream of unknown length (Algorithm R). Saved with the
 * number of items offered (`save()`) and taken up again, it stays uniform over the whole stream: each later item
 * replaces one with probability size/seen, whatever invocation offers it.
 */
export class Reservoir<T> {
  readonly items: T[] = [];
  private seen = 0;
  constructor(
    private readonly size: number,
    saved?: { items: T[]; seen: number },
  ) {
    if (saved) {
      this.items.push(...saved.items.slice(0, size));
      this.seen = saved.seen;
    }
  }
  save(): { items: T[]; seen: number } {
    return { items: [...this.items], seen: this.seen };
  }
  offer(item: T): void {
    this.seen += 1;
    if (this.items.length < this.size) this.items.push(item);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.size) this.items[j] = item;
    }
  }
}

/**
 * One uniform sample of at most `size` items of several streams, from a Reservoir's sample of each (saved with how
 * many items it was offered, `seen`, each at most `size` items): what one reservoir offered every item of every
 * stream would hold. It draws `size` items without replacement from the union: each draw picks a stream with
 * probability proportional to its items not yet drawn, then an item of that stream's sample not yet taken, which,
 * the sample being uniform over its stream, is a uniform pick of the stream's items not yet drawn. Simply
 * concatenating the samples, or taking an equal share of each, would over-sample the smaller streams.
 */
export function mergeSamples<T>(
  samples: readonly { items: readonly T[]; seen: number }[],
  size: number,
  random: () => number = Math.random,
): { items: T[]; seen: number } {
  const pools = samples.map((s) => ({ left: s.seen, items: [...s.items] }));
  const seen = pools.reduce((n, p) => n + p.left, 0);
  let left = seen;
  const items: T[] = [];
  while (items.length < size && left > 0) {
    let r = Math.floor(random() * left);
    const pool = pools.find((p) => {
      if (r < p.left) return true;
      r -= p.left;
      return false;
    });
    if (!pool || pool.items.length === 0) {
      throw new InvariantViolatedError(
        `A spot-check sample holds fewer items than it was offered and fewer than ${size}: it was not drawn at this size.`,
        { fix: "This is a bug in verification; report it with the execution's history. Start a new run." },
      );
    }
    const i = Math.floor(random() * pool.items.length);
    items.push(pool.items[i] as T);
    pool.items[i] = pool.items[pool.items.length - 1] as T;
    pool.items.pop();
    pool.left -= 1;
    left -= 1;
  }
  return { items, seen };
}

/** What the spot check compares of an object (HeadObject's answer, plus its tags when read). */
export interface ObjectAttributes {
  ServerSideEncryption?: string | undefined;
  SSEKMSKeyId?: string | undefined;
  BucketKeyEnabled?: boolean | undefined;
  StorageClass?: string | undefined;
  ContentType?: string | undefined;
  Metadata?: Record<string, string> | undefined;
  tags?: Record<string, string> | undefined;
}

/** SSE-KMS under the target key with Bucket Key: what every object must be when the run ends. */
export function isCompliant(kmsKeyArn: string, head: ObjectAttributes): boolean {
  return head.ServerSideEncryption === "aws:kms" && head.SSEKMSKeyId === kmsKeyArn && head.BucketKeyEnabled === true;
}

function sameRecord(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const sorted = (m: Record<string, string> | undefined) => JSON.stringify(Object.entries(m ?? {}).sort());
  return sorted(a) === sorted(b);
}

/**
 * How a copied object differs from the version it was copied from: storage class, content type, user metadata and
 * tags. `classOnly` when only the class is known (no copied-from version to read); an unknown class is not compared.
 */
export function copiedAttributeProblems(
  source: ObjectAttributes,
  copy: ObjectAttributes,
  options: { classOnly?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const expectedClass = source.StorageClass ?? (options.classOnly ? undefined : "STANDARD");
  if (expectedClass !== undefined && (copy.StorageClass ?? "STANDARD") !== expectedClass) {
    problems.push(`expected class ${expectedClass}`);
  }
  if (options.classOnly) return problems;
  if (copy.ContentType !== source.ContentType) {
    problems.push(`content type ${copy.ContentType ?? "unset"}, expected ${source.ContentType ?? "unset"}`);
  }
  if (!sameRecord(copy.Metadata, source.Metadata)) problems.push("user metadata differs");
  if (!sameRecord(copy.tags, source.tags)) problems.push("tags differ");
  return problems;
}
