/**
 * /v1/db: backup and restore of the whole state, as MinIO's KMS offers them.
 * GET streams a sealed backup (lib/store/backup.ts) of one consistent point
 * of the log — a copy of the in-memory state taken between two applied
 * batches — while the node goes on serving; `?gzip` compresses it. PUT
 * restores one onto a fresh node (lib/server/restore.ts). GET /v1/db/hash
 * gives the state hash. SysAdmin only.
 */
import { Hono, type Context } from "hono";
import { encodeCredentials } from "../node/credentials.ts";
import type { KmsNode } from "../node/node.ts";
import { callerReads } from "../node/pending.ts";
import { Errors, KmsError } from "../state/errors.ts";
import { StateHasher } from "../store/state-hash.ts";
import { callerOf } from "../state/policy.ts";
import { stateRecords } from "../state/records.ts";
import type { State } from "../state/state.ts";
import { BackupError, backupStream, openBackup, yieldToLoop } from "../store/backup.ts";
import type { Env } from "../net/env.ts";
import { isClientError } from "../net/errors.ts";
import { statusOf } from "../wire/errors.ts";
import type { AppDeps } from "./deps.ts";

/** The content type of a backup (a stream: no Content-Length). */
export const BACKUP_CONTENT_TYPE = "application/vnd.kms.backup";
/** Largest backup a restore takes. */
const MAX_RESTORE_BYTES = 4 * 2 ** 30;
/** How long a backup waits for writes in flight when it starts. */
const SETTLE_MS = 5_000;

/** 403 unless the caller is a SysAdmin; waits for pending changes to its own standing first. */
async function sysAdmin(node: KmsNode, identity: string | undefined): Promise<void> {
  await node.readBarrier(callerReads(node.state, node.info.adminIdentity, identity, ""));
  if (callerOf(node.state, node.info.adminIdentity, identity, "")?.privilege !== "SysAdmin") throw Errors.accessDenied();
}

/** A rough size of a state's backup, for progress bars (the stream itself has no length). */
function estimate(state: State): number {
  let n = 1024;
  for (const e of state.enclaves.values()) {
    n += 200 + 300 * (e.identities.size + e.policies.size);
    for (const r of e.keys.values()) n += 120 + 190 * r.versions.length;
  }
  return n + 400 * state.deleted.size;
}

function errorOf(c: Context<Env>, err: unknown): Response {
  if (isClientError(err)) throw err;
  if (err instanceof BackupError) return c.json({ message: `invalid backup: ${err.message}` }, 400);
  const e = err instanceof KmsError ? err : Errors.internal();
  return c.json({ message: e.message }, statusOf(e) as 400);
}

/** The /v1/db routes. */
export function dbRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const node = deps.node;

  app.get("/v1/db", async (c) => {
    try {
      await sysAdmin(node, c.env.identity);
      const state = await node.settledCopy(SETTLE_MS);
      const keys = node.keys;
      // Purged keys are zeroed only once this stream no longer reads the copy.
      const release = node.wiper.hold();
      const stream = backupStream({
        cluster: node.cluster, index: state.applied, commit: state.commit, compress: c.req.query("gzip") !== undefined,
        recipients: [...state.hsmKeys.values()], credentials: encodeCredentials(keys.creds),
        records: stateRecords(state), done: release,
      });
      return new Response(stream, {
        status: 200,
        headers: {
          "content-type": BACKUP_CONTENT_TYPE,
          "content-disposition": `attachment; filename="kms-${state.applied}.backup"`,
          "x-kms-backup-index": String(state.applied),
          "x-kms-backup-estimate": String(estimate(state)),
        },
      });
    } catch (err) {
      return errorOf(c, err);
    }
  });

  app.get("/v1/db/hash", async (c) => {
    try {
      await sysAdmin(node, c.env.identity);
      const state = await node.settledCopy(SETTLE_MS);
      const hasher = new StateHasher();
      let n = 0;
      for (const [k, value] of stateRecords(state)) {
        hasher.add(k, value);
        if (++n % 5_000 === 0) await yieldToLoop(); // keep serving meanwhile
      }
      return c.json({ index: state.applied, commit: state.commit, state_hash: hasher.digest() });
    } catch (err) {
      return errorOf(c, err);
    }
  });

  app.put("/v1/db", async (c) => {
    try {
      await sysAdmin(node, c.env.identity);
      const body = c.req.raw.body;
      if (!body) throw Errors.badRequest("invalid backup: the request has no body");
      const backup = await openBackup(body, node.keys.hsm, MAX_RESTORE_BYTES);
      const cluster = await node.installBackup(backup);
      return c.json({
        cluster, source_cluster: backup.header.cluster, index: backup.header.index, commit: backup.header.commit,
        records: backup.records.size, state_hash: backup.stateHash,
      });
    } catch (err) {
      return errorOf(c, err);
    }
  });
  return app;
}
