import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HsmKeyError, HsmMismatchError, SoftHsm } from "../lib/hsm/soft.ts";
import { adminApiKey, writeAdminKeyFile } from "../lib/server/admin-key.ts";
import { type RunningServer, startServer } from "../lib/server/start.ts";
import { CA_FILE } from "../lib/server/tls.ts";
import { VERSION } from "../lib/server/version.ts";
import { nameProblem } from "../lib/state/names.ts";
import { DataDirError } from "../lib/store/store.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { hsmFromEnv } from "./hsm.ts";
import { LIMIT_OPTIONS, LIMITS_HELP, limitsOf } from "./limits.ts";
import { table } from "./output.ts";

/** Where the banner gets the admin API key: printed (a terminal, or dev), a 0600 file, or a hint. */
type KeyShown = "print" | "file" | "hint";

/**
 * Starts a server and keeps it running until SIGINT/SIGTERM. `show` decides
 * how the banner gives the admin API key; `after` prints more once it is up.
 */
async function serve(dir: string, hsmKey: string, args: Args, show: (s: RunningServer) => KeyShown, after?: (apiKey: string) => void): Promise<number> {
  const tlsCert = args.values["tls-cert"] as string | undefined;
  const tlsKey = args.values["tls-key"] as string | undefined;
  if (!tlsCert !== !tlsKey) throw new CliError("--tls-cert and --tls-key go together", 2);
  // Listen for signals before starting: a supervisor may signal as soon as it sees the banner.
  // The first one stops gracefully (writes in flight finish, for a bounded time); a second one at once.
  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = () => {
      if (++signals === 1) return resolve();
      console.error("kms: stopping at once: writes in flight are left to the cluster");
      process.exit(1);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  let server: RunningServer;
  try {
    server = await startServer({
      dir: path.resolve(dir),
      hsmKey,
      addr: (args.values.addr as string | undefined) ?? ":7373",
      advertise: args.values.advertise as string | undefined,
      tlsCert,
      tlsKey,
      kesEnclave: kesEnclaveOf(args),
      limits: limitsOf(args),
      onFatal: (err) => {
        console.error(`kms: stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    });
  } catch (err) {
    if (err instanceof HsmKeyError || err instanceof HsmMismatchError || err instanceof DataDirError) throw new CliError(err.message);
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`address already in use: ${args.values.addr ?? ":7373"}`);
    throw err;
  }
  const apiKey = adminApiKey(SoftHsm.parse(hsmKey), server.cluster);
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
    ["Admin identity", server.adminIdentity],
    ["Admin API key", keyRow],
  ];
  if (!tlsCert) rows.push(["TLS CA", `${path.join(home, CA_FILE)} (the cluster's CA: use --ca with it)`]);
  console.log(table(rows));
  after?.(apiKey);
  await stopped;
  await server.close();
  console.log("kms: stopped");
  return 0;
}

const SERVER_OPTIONS = {
  addr: { type: "string" }, advertise: { type: "string" }, "tls-cert": { type: "string" }, "tls-key": { type: "string" },
  "kes-enclave": { type: "string" }, ...LIMIT_OPTIONS,
} as const;

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
${LIMITS_HELP}
Environment:
  MINIO_KMS_HSM_KEY    The software HSM key (hsm:aes256:…; make one with 'kms hsm new')`,
    options: SERVER_OPTIONS,
    positionals: 1,
    run(args) {
      hsmFromEnv(); // a clear message before anything touches DIR
      return serve(args.positionals[0], process.env.MINIO_KMS_HSM_KEY!, args, (s) => (!s.created ? "hint" : process.stdout.isTTY ? "print" : "file"));
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
${LIMITS_HELP}`,
    options: { addr: { type: "string" }, "kes-enclave": { type: "string" }, ...LIMIT_OPTIONS },
    positionals: [0, 1],
    run(args) {
      const dir = path.resolve(args.positionals[0] ?? ".dev/kms0");
      const keyFile = path.join(path.dirname(dir), "hsm.key");
      if (!existsSync(keyFile)) {
        mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
        writeFileSync(keyFile, SoftHsm.generate() + "\n", { mode: 0o600 });
      }
      const hsmKey = readFileSync(keyFile, "utf8").trim();
      const addr = (args.values.addr as string | undefined) ?? "127.0.0.1:7373";
      // The HSM key already sits unprotected beside the data: printing the admin key adds nothing here.
      return serve(dir, hsmKey, { ...args, values: { ...args.values, addr } }, () => "print", (apiKey) => {
        console.log(`\nDevelopment server: HSM key in ${keyFile} (never use this for real data)\n`);
        console.log(`In another shell:\n  export MINIO_KMS_SERVER=${addr.startsWith(":") ? "127.0.0.1" + addr : addr}`);
        console.log(`  export MINIO_KMS_API_KEY=${apiKey}\n  export KMS_CA=${path.join(dir, CA_FILE)}\n`);
      });
    },
  },
];
