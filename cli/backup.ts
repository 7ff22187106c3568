import { createReadStream, createWriteStream, statSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TransportError } from "../lib/net/transport.ts";
import { OutcomeUnknownError, streamRequest } from "../lib/client/stream.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { CONNECT_HELP, CONNECT_OPTIONS, connectOptions } from "./connect.ts";
import { output, table } from "./output.ts";
import { Progress } from "./progress.ts";

/** How long a restore may take on the server once the whole backup is sent (it installs the whole state before it answers). */
const RESTORE_REPLY_MS = 15 * 60_000;

/** A pass-through stream that counts bytes into `progress`. */
function counting(progress: Progress): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      progress.add(chunk.length);
      done(null, chunk);
    },
  });
}

/** `kms backup FILE`: streams GET /v1/db from the first server that answers into FILE (written whole, then renamed). */
async function backup(args: Args, file: string): Promise<void> {
  const opts = connectOptions(args);
  const query = args.values.gzip ? "?gzip" : "";
  let reply;
  let server = "";
  for (const s of opts.servers) {
    try {
      reply = await streamRequest(opts, s, "GET", `/v1/db${query}`);
      server = s;
      break;
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      if (s === opts.servers.at(-1)) throw err;
    }
  }
  const index = Number(reply!.headers["x-kms-backup-index"]);
  const progress = new Progress("backup", Number(reply!.headers["x-kms-backup-estimate"] ?? 0), !args.values.json && process.stderr.isTTY === true);
  const abs = path.resolve(file);
  const partial = path.join(path.dirname(abs), `.${path.basename(abs)}.partial`);
  try {
    await pipeline(reply!, counting(progress), createWriteStream(partial, { mode: 0o600, flags: "wx" }));
    await rename(partial, abs);
  } catch (err) {
    await rm(partial, { force: true });
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new CliError(`${partial} exists: another backup to ${file} is running, or left it behind`);
    throw new CliError(`the backup did not complete: ${(err as Error).message}`);
  } finally {
    progress.done();
  }
  output(args, { file: abs, server, index, bytes: progress.bytes, seconds: progress.seconds }, () =>
    table([["Backup", `${abs} (${(progress.bytes / 1e6).toFixed(1)} MB in ${progress.seconds.toFixed(1)} s)`], ["From", server], ["Index", String(index)]]));
}

/** `kms restore FILE [--to HOST]`: streams FILE to PUT /v1/db of a fresh node. */
async function restore(args: Args, file: string): Promise<void> {
  const opts = connectOptions(args);
  const host = (args.values.to as string | undefined) ?? opts.servers[0];
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const progress = new Progress("restore", size, !args.values.json && process.stderr.isTTY === true);
  const body = createReadStream(file).pipe(counting(progress));
  let text: string;
  try {
    const reply = await streamRequest(opts, host, "PUT", "/v1/db", body, { "content-type": "application/vnd.kms.backup", "content-length": String(size) }, { replyMs: RESTORE_REPLY_MS })
      .catch((err) => {
        if (!(err instanceof OutcomeUnknownError)) throw err;
        throw new CliError(`restore: ${host} took the whole backup but did not answer within ${RESTORE_REPLY_MS / 60_000} min: the restore may still complete. ` +
          `Check with 'kms ls' against it before trying again (a node that took a restore refuses another, changing nothing).`);
      });
    const chunks: Buffer[] = [];
    for await (const c of reply) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  } finally {
    progress.done();
  }
  const r = JSON.parse(text) as { cluster: string; source_cluster: string; index: number; commit: number; records: number; state_hash: string };
  output(args, { ...r, host, seconds: progress.seconds }, () =>
    [
      table([
        ["Restored", `${path.resolve(file)} onto ${host} in ${progress.seconds.toFixed(1)} s`],
        ["Cluster", `${r.cluster} (new, single-node; the backup is of ${r.source_cluster})`],
        ["Index", String(r.index)],
        ["Records", String(r.records)],
        ["State hash", r.state_hash],
      ]),
      "",
      "The node now holds the backed-up cluster's credentials: its CA (DIR/ca.crt) and admin API key",
      "are the backed-up cluster's. Grow it with 'kms add HOST:PORT'.",
    ].join("\n"));
}

/** backup, restore. */
export const backupCommands: CliCommand[] = [
  {
    name: "backup",
    summary: "Write a sealed backup of the whole state to a file",
    help: `Usage: kms backup [options] FILE

Writes a backup of the cluster's whole state, as one node holds it at one
commit index, to FILE (mode 0600; written whole, then renamed into place). The
node keeps serving meanwhile. The backup is sealed: only the HSM keys the
cluster had configured when it was made open it ('kms restore'). Shows a
progress bar when standard error is a terminal. Needs a SysAdmin API key.

Options:
  --gzip           Compress the records before sealing them
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, gzip: { type: "boolean" } },
    positionals: 1,
    run: (args) => backup(args, args.positionals[0]),
  },
  {
    name: "restore",
    summary: "Restore a backup onto a fresh node, which becomes a new cluster",
    help: `Usage: kms restore [options] FILE [--to HOST:PORT]

Restores the backup FILE onto a fresh node (a server started on an empty data
directory, with one of the HSM keys the backed-up cluster had): it becomes a
new single-node cluster holding exactly the backed-up state, with the
backed-up cluster's CA and admin API key, and can grow with 'kms add'. A
backup sealed for other HSM keys, a damaged, edited or truncated one, or one of
a newer format is refused and changes nothing. Authenticate with the fresh
node's own admin API key.

Options:
  --to HOST:PORT   The fresh node (default: the first of MINIO_KMS_SERVER)
${CONNECT_HELP}`,
    options: { ...CONNECT_OPTIONS, to: { type: "string" } },
    positionals: 1,
    run: (args) => restore(args, args.positionals[0]),
  },
];
