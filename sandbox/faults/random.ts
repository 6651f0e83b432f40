import { createHash } from "node:crypto";

/**
 * mulberry32: a small seedable PRNG, so a rule that fails "a share of calls" fails the same calls in every run of
 * the same test. Returns floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A uniform [0, 1) value fixed by its inputs, for decisions that must not depend on the order calls arrive in
 * (Batch Operations runs tasks concurrently and shuffled): the same seed and task always decide the same way.
 */
export function uniformOf(seed: number, ...parts: string[]): number {
  const digest = createHash("sha256")
    .update(`${seed}\0${parts.join("\0")}`)
    .digest();
  return digest.readUInt32BE(0) / 4294967296;
}
