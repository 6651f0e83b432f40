/**
 * S3 lists keys in UTF-8 binary order. JavaScript compares UTF-16 code units, which differs only where a
 * surrogate pair (U+10000 and up) meets U+E000–U+FFFF; remapping those ranges restores the UTF-8 order.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

/** First index whose key is greater than or equal to `key` (or strictly greater with `after`). */
export function lowerBound(keys: readonly string[], key: string, after = false): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(keys[mid] ?? "", key);
    if (c < 0 || (after && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index at or after `from` whose key does not start with `prefix` (keys with a prefix are contiguous). */
export function endOfPrefix(keys: readonly string[], prefix: string, from: number): number {
  let lo = from;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] ?? "").startsWith(prefix)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A sorted view of a bucket's keys that stays cheap under both bulk loads (10,000+ new keys, then a list:
 * one sort) and interleaved put/list (a few binary inserts). Removed keys stay in the array until the next
 * rebuild; readers skip them with `isLive`.
 */
export class SortedKeyIndex {
  private sorted: string[] | undefined;
  private pending: string[] = [];
  private stale = 0;

  add(key: string): void {
    if (this.sorted) this.pending.push(key);
  }

  remove(): void {
    if (this.sorted) this.stale++;
  }

  view(isLive: (key: string) => boolean, allKeys: () => Iterable<string>): readonly string[] {
    if (!this.sorted || this.pending.length > 64 || this.stale > 1024) {
      this.sorted = [...allKeys()].sort(compareKeys);
      this.pending = [];
      this.stale = 0;
      return this.sorted;
    }
    for (const key of this.pending) this.insert(this.sorted, key);
    this.pending = [];
    if (this.stale > 0 && this.sorted.length < 4096) {
      this.sorted = this.sorted.filter(isLive);
      this.stale = 0;
    }
    return this.sorted;
  }

  private insert(sorted: string[], key: string): void {
    const at = lowerBound(sorted, key);
    if (sorted[at] !== key) sorted.splice(at, 0, key);
  }
}
