/**
 * Abort markers. A leader that gives up uncommitted entries of its own term
 * records (term, index): it will never acknowledge an entry of that term at
 * that index or later, so none can commit anywhere. Markers are facts, so any
 * node may adopt one and drop the dead entries it holds. A marker is no longer
 * needed once a node's commit index reaches its index, or reaches an entry of
 * a later term: a log holding the marker's entries has, at the commit index,
 * an entry of their term or earlier, so it conflicts with the committed prefix
 * and log matching keeps those entries out from then on.
 */
import type { Marker } from "./types.ts";

/** A node's commit index and the term of the entry there: what makes markers obsolete. */
export interface CommitPoint {
  readonly index: number;
  readonly term: number;
}

/** Whether `m` is no longer needed once everything up to `commit` is committed. */
function obsolete(m: Marker, commit: CommitPoint): boolean {
  return m.index <= commit.index || m.term < commit.term;
}

/** The marker that makes an entry of (term, index) dead, if any. */
export function deadBy(markers: readonly Marker[], term: number, index: number): Marker | null {
  for (const m of markers) if (m.term === term && index >= m.index) return m;
  return null;
}

/** Markers still needed once everything up to `commit` is committed (same array if unchanged). */
export function prune(markers: readonly Marker[], commit: CommitPoint): readonly Marker[] {
  return markers.some((m) => obsolete(m, commit)) ? markers.filter((m) => !obsolete(m, commit)) : markers;
}

/**
 * `mine` plus whatever of `incoming` is new and not yet obsolete, keeping one
 * marker per term (the lowest index covers the most) and at most `max` in all
 * (adopting is an optimisation; only the creator must keep its own marker).
 */
export function merge(mine: readonly Marker[], incoming: readonly Marker[], commit: CommitPoint, max: number): readonly Marker[] {
  let out = mine;
  for (const m of incoming) {
    if (obsolete(m, commit)) continue;
    const i = out.findIndex((x) => x.term === m.term);
    if (i >= 0) {
      if (out[i].index <= m.index) continue;
      out = out.map((x, j) => (j === i ? m : x));
    } else {
      if (out.length >= max) continue;
      out = [...out, m];
    }
  }
  return out;
}
