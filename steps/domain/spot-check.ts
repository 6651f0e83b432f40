/** The independent check of "Verify results": a random sample of re-encrypted objects, HEADed one by one. */

/**
 * A few sampled objects deleted since their copy are normal; many mean rekey is HEADing keys that do not exist
 * (for example a completion report whose key encoding it misread), and then the check proves nothing.
 */
export function notFoundProblem(checked: number, notFound: number): boolean {
  return notFound > 5 && notFound > checked / 10;
}

/** A uniform random sample of at most `size` items from a stream of unknown length (Algorithm R). */
export class Reservoir<T> {
  readonly items: T[] = [];
  private seen = 0;
  constructor(private readonly size: number) {}
  offer(item: T): void {
    this.seen += 1;
    if (this.items.length < this.size) this.items.push(item);
    else {
      const j = Math.floor(Math.random() * this.seen);
      if (j < this.size) this.items[j] = item;
    }
  }
}
