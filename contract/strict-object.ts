import { z } from "zod";

/**
 * An object schema that refuses keys it does not know, for input a person writes (the execution input, its
 * options). A key zod would otherwise drop is almost always a typo, and a typo silently runs on the default
 * (`inventoryWaitSecond` would wait 72 hours, not what was asked). The issue names the key, the known key it most
 * resembles, and every known key.
 */
export function strictObject<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === "unrecognized_keys" ? unknownKeysMessage(issue.keys, known) : undefined),
  });
}

export function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const named = keys
    .map((key) => {
      const close = closestKey(key, known);
      return close === undefined ? `"${key}"` : `"${key}" (did you mean ${close}?)`;
    })
    .join(", ");
  return `unknown key${keys.length === 1 ? "" : "s"} ${named}; known keys: ${known.join(", ")}.`;
}

/** The known key a mistyped key most likely meant: same letters ignoring case, or within a few edits. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  if (best === undefined) return undefined;
  // A third of the key's length, at least 2: "kmsKeyID" finds kmsKeyArn, "colour" finds nothing.
  const allowed = Math.max(2, Math.ceil(key.length / 3));
  return best.distance <= allowed ? best.key : undefined;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
