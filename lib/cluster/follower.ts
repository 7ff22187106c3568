/**
 * What any node does with a leader's append or snapshot: check the term,
 * follow, take the entries that continue its log (refusing dead ones), learn
 * the commit index, and answer.
 */
import { adoptMarkers, advanceCommit, becomeFollower, type Core, isDead, send } from "./core.ts";
import { prune } from "./markers.ts";
import type { AppendMsg, Marker, SnapshotMsg } from "./types.ts";

/** A node that has never held any membership: it waits for a snapshot and takes nothing else. */
export function isFresh(c: Core<unknown>): boolean {
  return c.snapshot.members.length === 0;
}

/** Treats `leader` as the leader of `term` (same-term candidates give up; a second leader is a bug). */
function follow(c: Core<unknown>, term: number, leader: number): void {
  if (c.role === "leader" && term === c.term) throw new Error(`cluster: two leaders in term ${term} (${c.o.id} and ${leader})`);
  if (c.role !== "follower" || term > c.term || c.leader !== leader) becomeFollower(c, term, leader);
  c.electionElapsed = 0;
  c.leaderHeardAt = c.now;
}

/** Answers an append or snapshot. */
function reply(c: Core<unknown>, to: number, success: boolean, index: number, aborted: Marker | null = null): void {
  send(c, to, { type: "appendResp", success, index, hint: c.log.lastIndex, aborted });
}

/** Handles a leader's append (entries and/or commit index). */
export function handleAppend<C>(c: Core<C>, m: AppendMsg<C>): void {
  if (m.term < c.term) return reply(c, m.from, false, m.prevIndex); // the stale leader learns our term
  if (isFresh(c)) return;
  follow(c, m.term, m.from);
  c.leaderUnreachable = Array.isArray(m.unreachable) ? m.unreachable : []; // absent from older peers
  adoptMarkers(c, m.markers);
  if (m.prevIndex < c.commit) return reply(c, m.from, true, c.commit); // our committed prefix matches any leader's
  if (c.log.term(m.prevIndex) !== m.prevTerm) {
    send(c, m.from, { type: "appendResp", success: false, index: m.prevIndex, hint: Math.min(m.prevIndex - 1, c.log.lastIndex), aborted: null });
    return;
  }
  let last = m.prevIndex;
  let aborted: Marker | null = null;
  for (const e of m.entries) {
    const t = c.log.term(e.index);
    if (t === e.term) {
      last = e.index;
      continue;
    }
    aborted = isDead(c.markers, e.term, e.index);
    if (aborted) break;
    if (t !== undefined) {
      if (e.index <= c.commit) throw new Error(`cluster: leader ${m.from} overwrites committed entry ${e.index}`);
      c.log.truncateFrom(e.index);
    }
    c.log.append([e]);
    last = e.index;
  }
  advanceCommit(c, Math.min(m.commit, last));
  reply(c, m.from, true, last, aborted);
}

/** Handles a leader's snapshot: installs it unless the log already covers it. */
export function handleSnapshot(c: Core<unknown>, m: SnapshotMsg): void {
  const s = m.snapshot;
  if (m.term < c.term) return reply(c, m.from, false, s.index);
  follow(c, m.term, m.from);
  const fresh = isFresh(c);
  if (!fresh && s.index <= c.commit) return reply(c, m.from, true, c.commit);
  if (!fresh && c.log.term(s.index) === s.term) {
    advanceCommit(c, s.index); // log matching: our log up to s.index is the snapshot's history
    return reply(c, m.from, true, s.index);
  }
  c.log.restore(s.index, s.term);
  c.snapshot = s;
  c.persistSnapshot = s;
  c.restore = s;
  c.commit = s.index;
  c.markers = prune(c.markers, { index: s.index, term: s.term });
  if (c.edit && c.edit.index <= s.index) c.edit = null;
  reply(c, m.from, true, s.index);
}
