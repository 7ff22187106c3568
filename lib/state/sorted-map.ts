/**
 * A Map of names that also keeps its names sorted, so a listing page costs
 * O(log n + page) instead of a sort of every name per request. Writes stay
 * O(1): new names wait in a small side list (sorted when a listing needs it)
 * and deleted ones stay in the sorted array until enough pile up; both are
 * folded into the sorted array in one O(n) pass, amortised over at least
 * n/16 writes. Order is the default sort's (UTF-16 code units), as `<` compares.
 */

/** Folds pending changes once they exceed this share of the sorted names (and at least FOLD_MIN). */
const FOLD_SHARE = 16;
const FOLD_MIN = 1024;

export class SortedMap<V> extends Map<string, V> {
  /** Every name present at the last fold, sorted; some may have been deleted since. */
  #sorted: string[] = [];
  /** Names added since the last fold (a name may repeat, or also be in #sorted after a delete and a re-add). */
  #added: string[] = [];
  #addedSorted = true;
  /** Deletions since the last fold. */
  #removed = 0;

  override set(name: string, value: V): this {
    if (!super.has(name)) {
      this.#added.push(name);
      this.#addedSorted = false;
    }
    return super.set(name, value);
  }

  override delete(name: string): boolean {
    if (!super.delete(name)) return false;
    this.#removed++;
    return true;
  }

  override clear(): void {
    super.clear();
    this.#sorted = [];
    this.#added = [];
    this.#addedSorted = true;
    this.#removed = 0;
  }

  /**
   * Calls `take` with the present names ≥ `from`, in order, each once, until
   * it returns false.
   */
  scan(from: string, take: (name: string) => boolean): void {
    for (const name of this.ordered(from)) if (!take(name)) return;
  }

  /** The present names ≥ `from`, in order, each once (a fold may happen first). */
  *ordered(from: string): Generator<string> {
    const limit = Math.max(FOLD_MIN, this.#sorted.length / FOLD_SHARE);
    if (this.#added.length > limit || this.#removed > limit) this.#fold();
    yield* this.#walk(from);
  }

  *#walk(from: string): Generator<string> {
    if (!this.#addedSorted) {
      this.#added.sort();
      this.#addedSorted = true;
    }
    const a = this.#sorted, b = this.#added;
    let i = lowerBound(a, from), j = lowerBound(b, from);
    let last: string | undefined;
    while (i < a.length || j < b.length) {
      const name = j >= b.length || (i < a.length && a[i] < b[j]) ? a[i++] : b[j++];
      if (name === last || !super.has(name)) continue;
      last = name;
      yield name;
    }
  }

  /** Merges the added names into the sorted ones and drops the deleted. */
  #fold(): void {
    this.#sorted = [...this.#walk("")];
    this.#added = [];
    this.#removed = 0;
  }
}

/** The first index of sorted `a` whose name is ≥ `x`. */
function lowerBound(a: readonly string[], x: string): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
