import { readFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import { type ClientOptions, KmsClient } from "../lib/client/client.ts";
import { InvalidApiKeyError, parseApiKey } from "../lib/identity/apikey.ts";
import { type Args, CliError } from "./command.ts";

/** Flags of every command that talks to a server. */
export const CONNECT_OPTIONS: NonNullable<ParseArgsConfig["options"]> = {
  insecure: { type: "boolean", short: "k" },
  ca: { type: "string" },
};

/** Help lines for CONNECT_OPTIONS and the environment. */
export const CONNECT_HELP = `
Connection:
  -k, --insecure   Accept any server certificate (self-signed dev servers)
  --ca FILE        Trust the CA certificate(s) in FILE, e.g. DIR/ca.crt
                   (default: $KMS_CA)
  --json           Print JSON
Environment:
  MINIO_KMS_SERVER   host:port[,host:port…] of the cluster's nodes
  MINIO_KMS_API_KEY  API key (k1:… or k2:…) to authenticate with`;

/** A client for the servers named by MINIO_KMS_SERVER, authenticated with MINIO_KMS_API_KEY (or `apiKey`). */
export function connect(args: Args, apiKey = process.env.MINIO_KMS_API_KEY, only?: { servers?: string[]; timeoutMs?: number }): KmsClient {
  const opts = connectOptions(args, apiKey, only?.servers);
  try {
    return new KmsClient({ ...opts, timeoutMs: only?.timeoutMs });
  } catch (err) {
    if (err instanceof InvalidApiKeyError) throw new CliError(`MINIO_KMS_API_KEY: ${err.message}`);
    throw err;
  }
}

/** The client options of MINIO_KMS_SERVER (or `only`), MINIO_KMS_API_KEY (or `apiKey`) and the CA flags. */
export function connectOptions(args: Args, apiKey = process.env.MINIO_KMS_API_KEY, only?: string[]): ClientOptions {
  const servers = only ?? configuredServers();
  if (servers.length === 0) throw new CliError("MINIO_KMS_SERVER is not set: export MINIO_KMS_SERVER=host:port");
  if (!apiKey) throw new CliError("MINIO_KMS_API_KEY is not set: export the API key the server printed (k1:…)");
  const caFile = (args.values.ca as string | undefined) ?? (process.env.KMS_CA || undefined);
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile, "utf8");
    } catch (err) {
      throw new CliError(`cannot read --ca ${caFile}: ${(err as Error).message}`);
    }
  }
  try {
    parseApiKey(apiKey);
  } catch (err) {
    if (err instanceof InvalidApiKeyError) throw new CliError(`MINIO_KMS_API_KEY: ${err.message}`);
    throw err;
  }
  return { servers, apiKey, ca, insecure: args.values.insecure === true };
}

/** The servers MINIO_KMS_SERVER names. */
export function configuredServers(): string[] {
  return (process.env.MINIO_KMS_SERVER ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** The enclave for key commands: --enclave, else MINIO_KMS_ENCLAVE. */
export function enclaveOf(args: Args): string {
  const e = (args.values.enclave as string | undefined) ?? process.env.MINIO_KMS_ENCLAVE;
  if (!e) throw new CliError("no enclave: pass --enclave NAME or set MINIO_KMS_ENCLAVE", 2);
  return e;
}
