import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HsmKeyError, HsmMismatchError, SoftHsm } from "../lib/hsm/soft.ts";
import { writeAdminKeyFile } from "../lib/server/admin-key.ts";
import { parseListenAddress } from "../lib/net/address.ts";
import { DEFAULT_RECOVERY_WINDOW_MS, type RunningServer, startServer } from "../lib/server/start.ts";
import { MlockError } from "../lib/server/mlock.ts";
import { parseDuration } from "../lib/edge/duration.ts";
import { clockFromEnv } from "../lib/server/test-clock.ts";
import { CA_FILE } from "../lib/server/tls.ts";
import { VERSION } from "../lib/version.ts";
import { log } from "../lib/log/logger.ts";
import { AuditOutError } from "../lib/audit/hub.ts";
import { reexec, RESTART_EXIT } from "../lib/server/reexec.ts";
import { nameProblem } from "../lib/state/names.ts";
import { DataDirError } from "../lib/store/store.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { HSM_ENV_HELP, hsmFromEnv, hsmKeyFromEnv } from "./hsm.ts";
import { CONSOLE_HELP, CONSOLE_OPTIONS, consoleOf } from "./console-flags.ts";
import { LIMIT_OPTIONS, LIMITS_HELP, limitsOf } from "./limits.ts";
import { table } from "./output.ts";
import { WATCH_OPTIONS, watchFlags, watchHelp } from "./watch-flags.ts";

/** Where the banner gets the admin API key: printed (a terminal, or dev), a 0600 file, or a hint. */
type KeyShown = "print" | "file" | "hint";

/**
 * Starts a server and keeps it running until SIGINT/SIGTERM. `show` decides
 * how the banner gives the admin API key; `after` prints more once it is up.
 */
async function serve(
  dir: string, hsmKey: string, args: Args, show: (s: RunningServer) => KeyShown, after?: (apiKey: string) => void, warnHsm = true,
): Promise<number> {
  const { addr, tlsCert, tlsKey } = serverFlags(args);
  const watch = watchFlags(args, "switch");
  // Listen for signals before starting: a supervisor may signal as soon as it sees the banner.
  // The first one stops gracefully (writes in flight finish, for a bounded time); a second one at once.
  let signals = 0;
  let restarting = false;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
    const onSignal = () => {
      if (++signals === 1) return resolve();
      log.error("stopping at once: writes in flight are left to the cluster");
      process.exit(1);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  let server: RunningServer | undefined;
  // SIGHUP starts a new --audit file under the same name (logrotate moved the old one); it never stops the server.
  const onHup = () => {
    if (!server || !watch.auditOut || watch.auditOut === "-") return;
    try {
      server.reopenAudit();
      log.info(`SIGHUP: reopened ${watch.auditOut}`);
    } catch (err) {
      log.error(`SIGHUP: ${(err as Error).message}; records still go to the old file`);
    }
  };
  process.on("SIGHUP", onHup);
  try {
    server = await startServer({
      dir: path.resolve(dir),
      hsmKey,
      addr,
      advertise: args.values.advertise as string | undefined,
      tlsCert,
      tlsKey,
      kesEnclave: kesEnclaveOf(args),
      limits: limitsOf(args),
      recoveryWindowMs: recoveryWindowOf(args),
      mlock: mlockOf(args),
      clock: clockFromEnv(),
      auditOut: watch.auditOut,
      auditTrail: watch.auditTrail as boolean,
      metrics: watch.metrics,
      threads: threadsOf(args),
      restart: () => {
        restarting = true;
        stop();
      },
      console: consoleOf(args),
      onFatal: (err) => {
        log.error(`stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    });
  } catch (err) {
    process.off("SIGHUP", onHup);
    if (err instanceof HsmKeyError || err instanceof HsmMismatchError || err instanceof DataDirError || err instanceof MlockError || err instanceof AuditOutError) {
      throw new CliError(err.message);
    }
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`--addr ${addr}: the address is already in use (is another server running?)`);
    if ((err as NodeJS.ErrnoException).code === "EADDRNOTAVAIL") throw new CliError(`--addr ${addr}: no interface of this machine has that address`);
    if ((err as NodeJS.ErrnoException).code === "EACCES") throw new CliError(`--addr ${addr}: not allowed to listen there (ports below 1024 need privileges)`);
    throw err;
  }
  const apiKey = server.adminApiKey;
  const home = path.resolve(dir);
  let keyRow: string;
  switch (show(server)) {
    case "print":
      keyRow = apiKey;
      break;
    case "file":
      // Logs (journald, container logs) outlive the need for the key: never print it there.
      keyRow = `in ${await writeAdminKeyFile(home, apiKey)} (mode 0600: read it, keep it safe, delete the file)`;
      break;
    case "hint":
      keyRow = `'kms identity --hsm ${home}' prints it`;
  }
  const rows: [string, string][] = [
    ["Version", VERSION],
    ["Data directory", `${home}${server.created ? " (new single-node cluster)" : ""}`],
    ...server.urls.map((u, i): [string, string] => [i === 0 ? "Listening on" : "", u]),
    ...(consoleOf(args) ? [["Console", `${server.urls[0]}/console/`] as [string, string]] : []),
    ["Admin identity", server.adminIdentity],
    ["Admin API key", keyRow],
  ];
  if (!tlsCert) rows.push(["TLS CA", `${path.join(home, CA_FILE)} (the cluster's CA: use --ca with it)`]);
  // One write: whoever waits for the banner also gets the warning.
  console.log(table(rows) + (server.created && warnHsm ? `\n${hsmWarning(home)}` : ""));
  log.info(`kms ${VERSION} serving ${home} on ${server.urls[0]}`, { created: server.created });
  after?.(apiKey);
  await stopped;
  process.off("SIGHUP", onHup);
  log.info(restarting ? "restarting: stopping gracefully first" : "stopping gracefully");
  await server.close();
  if (restarting) {
    // The same program, arguments and environment, in this same process (lib/server/reexec.ts).
    console.log("kms: stopped; restarting");
    reexec(server.port);
    log.error(`this runtime cannot restart a process in place: exiting with status ${RESTART_EXIT} for a supervisor to start it again`);
    return RESTART_EXIT;
  }
  console.log("kms: stopped");
  return 0;
}

/** Printed once, when a server creates its data directory: the HSM key is the only way back in. */
function hsmWarning(dir: string): string {
  return `
IMPORTANT: ${dir} can only ever be read with the HSM key it was just created with.
Store that key safely now (a secret store or an offline copy, not next to the data):
without it every key in this directory is lost. To check a stored copy:
  MINIO_KMS_HSM_KEY_FILE=COPY kms hsm check ${dir}`;
}

/** Checks a listen or advertised address flag; a usage error naming the flag. */
export function addressFlag(value: string, flag: string): string {
  try {
    parseListenAddress(value);
  } catch (err) {
    throw new CliError(`${flag}: ${(err as Error).message}`, 2);
  }
  return value;
}

/** The server's flags, checked before anything touches the data directory. */
function serverFlags(args: Args): { addr: string; tlsCert?: string; tlsKey?: string } {
  const addr = addressFlag((args.values.addr as string | undefined) ?? ":7373", "--addr");
  const advertise = args.values.advertise as string | undefined;
  if (advertise !== undefined) {
    addressFlag(advertise, "--advertise");
    if (advertise.startsWith(":") || /^(0\.0\.0\.0|\[::\]):/.test(advertise)) {
      throw new CliError(`--advertise ${advertise}: other nodes need a host to dial, e.g. --advertise 10.0.0.1:7373`, 2);
    }
  }
  const tlsCert = args.values["tls-cert"] as string | undefined;
  const tlsKey = args.values["tls-key"] as string | undefined;
  if (!tlsCert !== !tlsKey) throw new CliError("--tls-cert and --tls-key go together", 2);
  for (const [flag, file] of [["--tls-cert", tlsCert], ["--tls-key", tlsKey]] as const) {
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (err) {
      throw new CliError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 2);
    }
  }
  kesEnclaveOf(args);
  threadsOf(args);
  recoveryWindowOf(args);
  mlockOf(args);
  consoleOf(args);
  return { addr, tlsCert, tlsKey };
}

/** --key-recovery-window DURATION (7d, 12h, 30m, 0): how long deleted keys are kept; default 7 days. */
function recoveryWindowOf(args: Args): number {
  const value = args.values["key-recovery-window"] as string | undefined;
  if (value === undefined) return DEFAULT_RECOVERY_WINDOW_MS;
  const days = /^(\d+)d$/.exec(value.trim());
  try {
    return days ? Number(days[1]) * 24 * 3600_000 : parseDuration(value);
  } catch {
    throw new CliError(`--key-recovery-window ${value}: use a duration such as 7d, 12h, 30m or 0 (deletions final at once)`, 2);
  }
}

/** --mlock, or MINIO_KMS_MLOCK=on: lock the process's memory. */
function mlockOf(args: Args): boolean {
  const env = process.env.MINIO_KMS_MLOCK?.trim().toLowerCase();
  if (env && !["on", "off", "1", "0", "true", "false"].includes(env)) throw new CliError(`MINIO_KMS_MLOCK=${env}: use on or off`, 2);
  return args.values.mlock === true || env === "on" || env === "1" || env === "true";
}

const SERVER_OPTIONS = {
  addr: { type: "string" }, advertise: { type: "string" }, "tls-cert": { type: "string" }, "tls-key": { type: "string" },
  "kes-enclave": { type: "string" }, "key-recovery-window": { type: "string" }, mlock: { type: "boolean" }, threads: { type: "string" }, ...LIMIT_OPTIONS, ...WATCH_OPTIONS, ...CONSOLE_OPTIONS,
} as const;

/** Most serving threads a node runs (far past any core count this is measured on). */
const MAX_THREADS = 64;

/** --threads N: serving threads, the main thread's included (default 1). */
function threadsOf(args: Args): number {
  const value = args.values.threads as string | undefined;
  if (value === undefined) return 1;
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!(n >= 1 && n <= MAX_THREADS)) throw new CliError(`--threads ${value}: use a whole number from 1 to ${MAX_THREADS} (serving threads, e.g. one per core)`, 2);
  return n;
}

/** --kes-enclave NAME: the enclave KES API clients work in. */
function kesEnclaveOf(args: Args): string | undefined {
  const e = args.values["kes-enclave"] as string | undefined;
  if (e !== undefined && nameProblem(e)) throw new CliError(`--kes-enclave: ${nameProblem(e)}`, 2);
  return e;
}

/** server and dev. */
export const serverCommands: CliCommand[] = [
  {
    name: "server",
    summary: "Start a kms server",
    help: `Usage: kms server [options] DIR

Starts a server with its state in DIR. The first start creates DIR as a new
single-node cluster and gives the admin API key: printed when the output is a
terminal, else written to DIR/admin.key (mode 0600), never to a log. Later
starts reopen DIR; 'kms identity --hsm DIR' prints the key again.

Options:
  --addr [HOST]:PORT   Listen address (default :7373)
  --advertise HOST:PORT  Address other nodes dial to reach this one
                       (default: the listen address)
  --tls-cert FILE      PEM certificate (default: a self-signed one in DIR)
  --tls-key FILE       PEM private key of --tls-cert
  --kes-enclave NAME   Enclave that KES API clients (MINIO_KMS_KES_*) work in
                       (default: default; create it with 'kms add-enclave')
  --key-recovery-window DURATION
                       How long deleted keys and enclaves are kept, sealed,
                       before they are purged (default 7d; 0: at once)
  --threads N          Serving threads, each with its own listener on the
                       port and a read replica of the state (default 1; one
                       per core uses them all). Needs Bun on Linux: elsewhere
                       the server says so and serves with one thread
  --mlock              Lock the process's memory so keys never reach swap;
                       refuses to start if that is not permitted (needs
                       CAP_IPC_LOCK or a large enough LimitMEMLOCK)
${LIMITS_HELP}
${watchHelp("switch")}

POST /v1/debug/restart (kms restart) stops the server gracefully and starts
the same command again in the same process (same PID): by hand, under
systemd or any supervisor.

${CONSOLE_HELP}

Environment:
${HSM_ENV_HELP}
  MINIO_KMS_MLOCK=on   The same as --mlock`,
    options: SERVER_OPTIONS,
    positionals: 1,
    run(args) {
      // Clear messages for the key and the flags before anything touches DIR.
      hsmFromEnv();
      serverFlags(args);
      return serve(args.positionals[0], hsmKeyFromEnv().text, args, (s) => (!s.created ? "hint" : process.stdout.isTTY ? "print" : "file"));
    },
  },
  {
    name: "dev",
    summary: "Start a development server with a generated HSM key",
    help: `Usage: kms dev [options] [DIR]

Starts a single-node server for development in DIR (default .dev/kms0) on
127.0.0.1:7373. The first run generates an HSM key and stores it, UNPROTECTED,
in DIR/../hsm.key: never use this for real data.

Options:
  --addr [HOST]:PORT   Listen address (default 127.0.0.1:7373)
  --threads N          Serving threads, each with its own listener on the
                       port and a read replica of the state (default 1; one
                       per core uses them all). Needs Bun on Linux: elsewhere
                       the server says so and serves with one thread
${LIMITS_HELP}
${watchHelp("switch")}

${CONSOLE_HELP}`,
    options: { addr: { type: "string" }, "kes-enclave": { type: "string" }, threads: { type: "string" }, ...LIMIT_OPTIONS, ...WATCH_OPTIONS, ...CONSOLE_OPTIONS },
    positionals: [0, 1],
    run(args) {
      const addr = addressFlag((args.values.addr as string | undefined) ?? "127.0.0.1:7373", "--addr");
      kesEnclaveOf(args);
      threadsOf(args);
      consoleOf(args);
      const dir = path.resolve(args.positionals[0] ?? ".dev/kms0");
      const keyFile = path.join(path.dirname(dir), "hsm.key");
      if (!existsSync(keyFile)) {
        mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
        writeFileSync(keyFile, SoftHsm.generate() + "\n", { mode: 0o600 });
      }
      const hsmKey = readFileSync(keyFile, "utf8").trim();
      // The HSM key already sits unprotected beside the data: printing the admin key adds nothing here.
      return serve(dir, hsmKey, { ...args, values: { ...args.values, addr } }, () => "print", (apiKey) => {
        console.log(`\nDevelopment server: HSM key in ${keyFile} (never use this for real data)\n`);
        console.log(`In another shell:\n  export MINIO_KMS_SERVER=${addr.startsWith(":") ? "127.0.0.1" + addr : addr}`);
        console.log(`  export MINIO_KMS_API_KEY=${apiKey}\n  export KMS_CA=${path.join(dir, CA_FILE)}\n`);
      }, false);
    },
  },
];
