/**
 * Abort markers. A leader that gives up uncommitted entries of its own term
 * records (term, index): it will never acknowledge an entry of that term at
 * that index or later, so none can commit anywhere. Markers are facts, so any
 * node may adopt one and drop the dead entries it holds. Once a node's commit
 * index reaches a marker's index the marker is no longer needed: the log
 * matching property keeps the dead entries out from then on.
 */
import type { Marker } from "./types.ts";

/** The marker that makes an entry of (term, index) dead, if any. */
export function deadBy(markers: readonly Marker[], term: number, index: number): Marker | null {
  for (const m of markers) if (m.term === term && index >= m.index) return m;
  return null;
}

/** Markers still needed once everything up to `commit` is committed (same array if unchanged). */
export function prune(markers: readonly Marker[], commit: number): readonly Marker[] {
  return markers.some((m) => m.index <= commit) ? markers.filter((m) => m.index > commit) : markers;
}

/**
 * `mine` plus whatever of `incoming` is new and not yet obsolete, keeping one
 * marker per term (the lowest index covers the most) and at most `max` in all
 * (adopting is an optimisation; only the creator must keep its own marker).
 */
export function merge(mine: readonly Marker[], incoming: readonly Marker[], commit: number, max: number): readonly Marker[] {
  let out = mine;
  for (const m of incoming) {
    if (m.index <= commit) continue;
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
