/**
 * Which membership is in force at a log index: the snapshot's (or a forced
 * edit's, whichever is later) folded with the change entries after it.
 * Change entries count from the moment they are in the log, committed or not,
 * as in Raft's single-server changes.
 */
import type { ConfAt } from "./log.ts";
import { applyChange, unionIds } from "./membership.ts";
import type { ConfigEdit, Members, SnapshotMeta } from "./types.ts";

/** Where configurations come from: a snapshot, an optional forced edit, the log's change entries. */
export interface ConfigSource {
  readonly snapshot: SnapshotMeta;
  readonly edit: ConfigEdit | null;
  readonly confs: readonly ConfAt[];
}

/** The membership in force at log index `k`. */
export function configAt(src: ConfigSource, k: number): Members {
  const e = src.edit;
  const base = e && k >= e.index && e.index >= src.snapshot.index ? e : { index: src.snapshot.index, members: src.snapshot.members };
  let ms = base.members;
  for (const c of src.confs) {
    if (c.index > k) break;
    if (c.index > base.index) ms = applyChange(ms, c.change);
  }
  return ms;
}

/**
 * Every node whose acknowledgement a commit beyond `commit` needs: members of
 * the configuration at `commit` and of every configuration after it in the
 * log, so a change commits under both the old and the new membership (a
 * removed node learns of its removal; an added node has everything before it).
 */
export function commitVoters(src: ConfigSource, commit: number): number[] {
  const from = src.edit && src.edit.index > commit ? src.edit.index : commit;
  const lists: Members[] = [configAt(src, from)];
  for (const c of src.confs) if (c.index > from) lists.push(configAt(src, c.index));
  return unionIds(lists);
}

/** True if the log holds a change entry after `commit` (only one may be pending at a time). */
export function changePending(src: ConfigSource, commit: number): boolean {
  const cs = src.confs;
  return cs.length > 0 && cs[cs.length - 1].index > commit;
}
