import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HsmKeyError, HsmMismatchError, SoftHsm } from "../lib/hsm/soft.ts";
import { inspectDataDir } from "../lib/store/data-dir.ts";
import { DataDirError } from "../lib/store/errors.ts";
import { readRootKey } from "../lib/store/root-key.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { output, table } from "./output.ts";

/** Help lines for the environment that holds the HSM key. */
export const HSM_ENV_HELP = `  MINIO_KMS_HSM_KEY       The software HSM key (hsm:aes256:…; make one with 'kms hsm new')
  MINIO_KMS_HSM_KEY_FILE  Or: a file holding it (mode 0600; 'kms hsm new --out FILE')`;

/** The HSM key text from MINIO_KMS_HSM_KEY or the file MINIO_KMS_HSM_KEY_FILE names, and where it came from. */
export function hsmKeyFromEnv(): { text: string; source: string } {
  const inline = process.env.MINIO_KMS_HSM_KEY;
  const file = process.env.MINIO_KMS_HSM_KEY_FILE;
  if (inline && file) throw new CliError("both MINIO_KMS_HSM_KEY and MINIO_KMS_HSM_KEY_FILE are set: unset one of them", 2);
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8").trim();
      if ((statSync(file).mode & 0o077) !== 0) {
        console.error(`kms: warning: ${file} (MINIO_KMS_HSM_KEY_FILE) can be read by other users: chmod 600 ${file}`);
      }
    } catch (err) {
      throw new CliError(`cannot read MINIO_KMS_HSM_KEY_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { text, source: `MINIO_KMS_HSM_KEY_FILE (${file})` };
  }
  if (!inline) {
    throw new CliError(
      "MINIO_KMS_HSM_KEY is not set (nor MINIO_KMS_HSM_KEY_FILE): make a key with 'kms hsm new --out FILE' and export MINIO_KMS_HSM_KEY_FILE=FILE",
    );
  }
  return { text: inline, source: "MINIO_KMS_HSM_KEY" };
}

/** The soft HSM named by the environment, or a CliError saying how to make one. */
export function hsmFromEnv(): SoftHsm {
  const { text, source } = hsmKeyFromEnv();
  try {
    return SoftHsm.parse(text, source);
  } catch (err) {
    if (err instanceof HsmKeyError) throw new CliError(err.message);
    throw err;
  }
}

/** `hsm new [--out FILE]`: a fresh key, printed or written to a new owner-only file. */
function hsmNew(out: string | undefined, args: Args): void {
  const key = SoftHsm.generate();
  if (out === undefined) return output(args, { hsm_key: key }, () => key);
  try {
    writeFileSync(out, key + "\n", { mode: 0o600, flag: "wx" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new CliError(`${out} exists: not writing a new HSM key over it (it may be the only copy of one)`);
    throw new CliError(`cannot write --out ${out}: ${code ?? (err as Error).message}`);
  }
  const file = path.resolve(out);
  output(args, { file }, () => [
    `HSM key written to ${file} (mode 0600)`,
    `Use it with:  export MINIO_KMS_HSM_KEY_FILE=${file}`,
    "Keep a copy somewhere safe, apart from the data: without it the data cannot be read.",
  ].join("\n"));
}

/** `hsm check DIR`: whether the HSM key of the environment unseals DIR; reads, never writes. */
async function hsmCheck(dir: string, args: Args): Promise<number> {
  const hsm = hsmFromEnv();
  const abs = path.resolve(dir);
  try {
    if (await inspectDataDir(abs) !== "existing") throw new CliError(`${abs} is not a kms data directory (it is missing or empty)`);
    const root = await readRootKey(abs, hsm);
    root.fill(0);
  } catch (err) {
    if (err instanceof HsmMismatchError) throw new CliError(`${err.message}: this is not its HSM key`);
    if (err instanceof DataDirError) throw new CliError(err.message);
    throw err;
  }
  output(args, { dir: abs, ok: true, fingerprint: hsm.fingerprint }, () =>
    table([["Data directory", abs], ["HSM key", "unseals it: this is its HSM key"], ["Fingerprint", `${hsm.fingerprint} (as 'kms ls-hsm' lists it)`]]));
  return 0;
}

/** hsm new, hsm check. */
export const hsmCommands: CliCommand[] = [
  {
    name: "hsm",
    summary: "Make a software HSM key (kms hsm new), or check one (kms hsm check DIR)",
    help: `Usage:
  kms hsm new [--out FILE]   Make a fresh software HSM key (hsm:aes256:…)
  kms hsm check DIR          Check that the HSM key unseals the data directory DIR

The HSM key seals every data directory of a cluster: every server needs it,
and without it the data cannot be read. Keep it secret and keep a copy apart
from the data. 'kms hsm new --out FILE' writes it to a new file (mode 0600)
for MINIO_KMS_HSM_KEY_FILE; without --out it is printed. 'kms hsm check'
proves that a stored copy is the right key (it only reads DIR).

Options:
  --out FILE   With 'new': write the key to FILE (never over an existing file)
  --json       Print JSON
Environment (for 'check'):
${HSM_ENV_HELP}`,
    options: { out: { type: "string" } },
    positionals: [1, 2],
    async run(args) {
      const [sub, dir] = args.positionals;
      if (sub === "new") {
        if (dir !== undefined) throw new CliError("hsm new takes no argument (use --out FILE)", 2);
        hsmNew(args.values.out as string | undefined, args);
        return;
      }
      if (sub === "check") {
        if (dir === undefined) throw new CliError("hsm check needs the data directory: kms hsm check DIR", 2);
        if (args.values.out !== undefined) throw new CliError("--out goes with 'kms hsm new'", 2);
        return hsmCheck(dir, args);
      }
      throw new CliError(`unknown hsm command '${sub}': use 'kms hsm new' or 'kms hsm check DIR'`, 2);
    },
  },
];
