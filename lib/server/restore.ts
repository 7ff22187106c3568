/**
 * Installing a backup on a fresh node: it becomes a new single-node cluster
 * (a new cluster id, so it never mixes with the cluster the backup came
 * from) holding exactly the backed-up state, at the backup's index, with the
 * backed-up cluster's credentials (the same CA file and admin API key).
 */
import { randomBytes } from "node:crypto";
import type { Durable } from "../cluster/types.ts";
import type { Command } from "../state/commands.ts";
import { Errors } from "../state/errors.ts";
import { stateOf } from "../state/records.ts";
import { recordsOfState } from "../state/records.ts";
import type { OpenedBackup } from "../store/backup.ts";
import { decodeCredentials } from "./credentials.ts";
import { assertFresh } from "./membership.ts";
import { encodeSnapshot, type KmsNode } from "./node.ts";
import { coreOptions, type Membership, membershipRecord } from "./replication.ts";
import { EMPTY_HARD } from "../cluster/storage.ts";

/** What a restore made: the new cluster's id. */
export interface Restored {
  readonly cluster: string;
}

/** Makes the fresh `node` a new single-node cluster holding the backup's state; refuses (changing nothing) otherwise. */
export async function installBackup(node: KmsNode, backup: OpenedBackup): Promise<Restored> {
  assertFresh(node, "cannot restore onto this node");
  let creds, state;
  try {
    creds = decodeCredentials(backup.credentials);
    state = stateOf(backup.records);
  } catch {
    throw Errors.badRequest("the backup's state cannot be read by this version of kms");
  }
  const { keys } = node.parts();
  if (!state.hsmKeys.has(keys.hsm.fingerprint)) throw Errors.badRequest("this node's HSM key is not one of the backup's configured HSM keys");
  state.applied = backup.header.index;
  const membership: Membership = { cluster: randomBytes(16).toString("hex"), id: 0 };
  const durable: Durable<Command> = {
    hard: EMPTY_HARD,
    snapshot: { index: backup.header.index, term: 0, members: [{ id: 0, addr: node.info.host }], data: encodeSnapshot(state) },
    entries: [],
  };
  // The credentials first (root.seal): a crash before the rest lands leaves a fresh node a retried restore sets right.
  await node.useKeys(keys.with(creds));
  const parts = node.parts();
  const records = recordsOfState(state) as Array<readonly [string, Uint8Array]>;
  await parts.driver.reset({ ...coreOptions(membership, node), applied: state.applied }, durable, parts.store, async () => {
    await parts.store.reset(durable, [membershipRecord(membership), ...records]);
    node.state = state;
  });
  parts.peers.cluster = membership.cluster;
  node.cluster = { ...node.parts(), membership };
  // Sealed for every HSM key the backed-up cluster had, like any of its nodes.
  await node.useKeys(node.parts().keys);
  await node.onJoined?.(membership.cluster);
  return { cluster: membership.cluster };
}
