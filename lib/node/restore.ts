/**
 * Installing a backup on a fresh node: it becomes a new single-node cluster
 * (a new cluster id, so it never mixes with the cluster the backup came
 * from) holding exactly the backed-up state, at the backup's index, with the
 * backed-up cluster's credentials (the same CA file and admin API key).
 * KmsNode.installBackup runs it; this module says what it installs.
 */
import { randomBytes } from "node:crypto";
import { EMPTY_HARD } from "../cluster/storage.ts";
import type { Durable } from "../cluster/types.ts";
import type { Command } from "../state/commands.ts";
import { Errors } from "../state/errors.ts";
import { encodeSnapshot, stateOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import type { OpenedBackup } from "../store/backup.ts";
import { type ClusterCredentials, decodeCredentials } from "./credentials.ts";
import type { Membership } from "./replication.ts";

/** What a restore installs: the credentials, the state, and the new cluster's membership and log. */
export interface Restoring {
  readonly creds: ClusterCredentials;
  readonly state: State;
  readonly membership: Membership;
  readonly durable: Durable<Command>;
}

/** What installing `backup` on the node at `host`, started with the HSM key `fingerprint`, makes; refuses ("invalid") what it cannot restore. */
export function restoring(backup: OpenedBackup, host: string, fingerprint: string): Restoring {
  let creds, state;
  try {
    creds = decodeCredentials(backup.credentials);
    state = stateOf(backup.records);
  } catch {
    throw Errors.badRequest("the backup's state cannot be read by this version of kms");
  }
  if (!state.hsmKeys.has(fingerprint)) throw Errors.badRequest("this node's HSM key is not one of the backup's configured HSM keys");
  state.applied = backup.header.index;
  const membership: Membership = { cluster: randomBytes(16).toString("hex"), id: 0 };
  const durable: Durable<Command> = {
    hard: EMPTY_HARD,
    snapshot: { index: backup.header.index, term: 0, members: [{ id: 0, addr: host }], data: encodeSnapshot(state) },
    entries: [],
  };
  return { creds, state, membership, durable };
}
