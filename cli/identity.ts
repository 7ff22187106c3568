import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { kesHexOf } from "../lib/identity/kes.ts";
import { clientCredentials, kesApiKeyOf, newApiKey, parseApiKey } from "../lib/identity/apikey.ts";
import { identityOfCertificate } from "../lib/identity/identity.ts";
import { newServerCertificate } from "../lib/identity/x509.ts";
import { adminApiKey } from "../lib/node/admin-key.ts";
import { clusterOf } from "./admin-key.ts";
import { type Args, type CliCommand, CliError } from "./command.ts";
import { output, table } from "./output.ts";
import { hsmFromEnv } from "./hsm.ts";

/** Rows and JSON fields for an identity, in both spellings (h1: and KES hex). */
function identityRows(identity: string): { rows: [string, string][]; json: Record<string, string> } {
  return { rows: [["Identity", identity], ["KES identity", kesHexOf(identity)]], json: { identity, kes_identity: kesHexOf(identity) } };
}

/** Rows and JSON fields for an API key and its identity: k1: and kes:v1: forms. */
function apiKeyRows(apiKey: string): { rows: [string, string][]; json: Record<string, string> } {
  const kes = kesApiKeyOf(apiKey);
  const id = identityRows(parseApiKey(apiKey).identity);
  return {
    rows: [["API key", apiKey], ...(kes ? [["KES API key", kes] as [string, string]] : []), ...id.rows],
    json: { api_key: apiKey, ...(kes ? { kes_api_key: kes } : {}), ...id.json },
  };
}

/** Writes a PEM file; private keys get mode 0600 and are never written over. */
function writePem(file: string, pem: string, secret: boolean): void {
  try {
    writeFileSync(file, pem, secret ? { mode: 0o600, flag: "wx" } : {});
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new CliError(`${file} exists: not writing a new private key over it (remove it first)`);
    throw new CliError(`cannot write ${file}: ${code ?? (err as Error).message}`);
  }
}

/** --san values (repeatable, comma-separated), default: localhost, this host's name and the loopback addresses. */
function sans(args: Args): string[] {
  const given = ((args.values.san as string[] | undefined) ?? []).flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean);
  return given.length ? given : ["localhost", os.hostname(), "127.0.0.1", "::1"];
}

/** `identity new --server`: a TLS server key and self-signed certificate. */
function newServer(args: Args): void {
  const certFile = args.values.cert as string | undefined;
  const keyFile = args.values.key as string | undefined;
  if (!certFile || !keyFile) throw new CliError("identity new --server needs --cert FILE and --key FILE", 2);
  const hosts = sans(args);
  let made;
  try {
    made = newServerCertificate(hosts);
  } catch (err) {
    throw new CliError(`--san: ${(err as Error).message}`, 2);
  }
  writePem(keyFile, made.key, true);
  writePem(certFile, made.cert, false);
  const id = identityRows(identityOfCertificate(made.cert));
  output(args, { cert: certFile, key: keyFile, hosts, ...id.json }, () =>
    table([["Certificate", `${certFile} (self-signed: clients trust it with --ca / KMS_CA / a CA path)`], ["Private key", `${keyFile} (mode 0600)`], ["Hosts", hosts.join(", ")], ...id.rows]));
}

/** identity: the identity of an API key or certificate; --hsm for the admin key; `new` for a fresh key or server certificate. */
export const identityCommands: CliCommand[] = [
  {
    name: "identity",
    summary: "Show the identity of an API key or certificate, or make a new API key or server certificate",
    help: `Usage:
  kms identity [CERT_FILE]     Identity of a PEM certificate, or of $MINIO_KMS_API_KEY
  kms identity --hsm DIR       The admin API key of DIR's cluster (DIR: a node's data
                               directory, or the cluster id), from the HSM key
  kms identity new             A fresh API key (k1: and KES kes:v1: forms) and its identity
  kms identity new --server --cert FILE --key FILE [--san HOST,…]
                               A TLS server key and self-signed certificate

Identities are printed as h1:… (kms) and as KES's hex form of the same hash.

Options:
  --hsm          Print the admin API key and identity derived from the HSM key
                 (MINIO_KMS_HSM_KEY or MINIO_KMS_HSM_KEY_FILE) and the cluster
  --cert FILE    With 'new': also write a PEM client certificate to FILE
                 (with --server: the server certificate)
  --key FILE     With 'new': also write the PEM private key to FILE (mode 0600)
  --server       With 'new': make a TLS server certificate instead of an API key
  --san HOST     With --server: a DNS name or IP address the certificate is for
                 (repeatable or comma-separated; default: localhost, this
                 host's name, 127.0.0.1 and ::1)
  --json         Print JSON`,
    options: { hsm: { type: "boolean" }, cert: { type: "string" }, key: { type: "string" }, server: { type: "boolean" }, san: { type: "string", multiple: true } },
    positionals: [0, 1],
    async run(args) {
      const arg = args.positionals[0];
      if ((args.values.server || args.values.san) && arg !== "new") throw new CliError("--server and --san go with 'kms identity new'", 2);
      if (args.values.hsm) {
        const apiKey = adminApiKey(hsmFromEnv(), clusterOf(arg, "identity --hsm"));
        const k = apiKeyRows(apiKey);
        output(args, k.json, () => table([...k.rows, ["Privilege", "SysAdmin"]]));
        return;
      }
      if (arg === "new") {
        if (args.values.server) return newServer(args);
        const apiKey = newApiKey();
        const creds = clientCredentials(parseApiKey(apiKey));
        if (args.values.key) writePem(args.values.key as string, creds.key, true);
        if (args.values.cert) writePem(args.values.cert as string, creds.cert, false);
        const k = apiKeyRows(apiKey);
        output(args, k.json, () => table(k.rows));
        return;
      }
      let identity: string;
      if (arg) {
        if (!existsSync(arg)) throw new CliError(`${arg}: no such file (pass a PEM certificate file; API keys are read from MINIO_KMS_API_KEY)`);
        try {
          identity = identityOfCertificate(readFileSync(arg, "utf8"));
        } catch {
          throw new CliError(`${arg} is not a PEM certificate`);
        }
        const id = identityRows(identity);
        output(args, id.json, () => table(id.rows));
        return;
      }
      const apiKey = process.env.MINIO_KMS_API_KEY;
      if (!apiKey) throw new CliError("pass a certificate file, or set MINIO_KMS_API_KEY", 2);
      const id = identityRows(parseApiKey(apiKey).identity);
      output(args, id.json, () => table(id.rows));
    },
  },
];
