/**
 * How a failed command is reported: one `kms:` line with the cause, then
 * indented hints that point to the fix. With --json the same as one JSON
 * object on stderr. Nothing here may reveal what exists on the server.
 */
import { KmsClientError } from "../lib/client/client.ts";
import { TransportError } from "../lib/net/transport.ts";
import { kesHexOf } from "../lib/identity/kes.ts";
import { InvalidApiKeyError, parseApiKey } from "../lib/identity/apikey.ts";
import { CliError } from "./command.ts";

/** A failure as shown to people: message, optional hints, HTTP status if the server answered, exit code. */
export interface Failure {
  readonly message: string;
  readonly hints: string[];
  readonly status?: number;
  readonly code: number;
}

/** Where the failure happened: the command and its flags, for hints. */
export interface FailureContext {
  readonly command?: string;
  readonly values?: Record<string, unknown>;
}

/** TLS verification failures of Bun's fetch and node:tls. */
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_HAS_EXPIRED", "ERR_TLS_CERT_ALTNAME_INVALID", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
]);

/** The caller's own identity, from MINIO_KMS_API_KEY (undefined when unset or malformed). */
function ownIdentity(): string | undefined {
  try {
    return process.env.MINIO_KMS_API_KEY ? parseApiKey(process.env.MINIO_KMS_API_KEY).identity : undefined;
  } catch {
    return undefined;
  }
}

/** Hints for an error the server answered with. */
function serverHints(err: KmsClientError, ctx: FailureContext): string[] {
  if (err.status === 403) {
    // Only what the caller already knows: its own identity. Nothing about what exists.
    const id = ownIdentity();
    if (!id) return [];
    const enclave = (ctx.values?.enclave as string | undefined) ?? process.env.MINIO_KMS_ENCLAVE ?? "ENCLAVE";
    return [
      `you are ${id} (KES identity ${kesHexOf(id)})`,
      `an admin of the enclave can add you (kms add-identity --enclave ${enclave} --policy POLICY ${id})`,
      "or give your identity a policy that allows this command (kms ls-commands lists the names)",
    ];
  }
  if (err.status === 400 && err.message === "invalid ciphertext" && ctx.command === "decrypt") {
    return [
      "one of: the ciphertext was made by another key (or was changed), the --context differs from the one it was",
      "encrypted with, the key version that made it was deleted, or it is not a ciphertext at all",
    ];
  }
  if (err.status === 503) return ["writes need every node of the cluster: 'kms ls' shows which are down"];
  return [];
}

/** Hints for a server that could not be reached. */
function transportHints(err: TransportError): string[] {
  if (err.code && TLS_CODES.has(err.code) || /certificate|self.signed|issuer/i.test(err.message)) {
    return [
      "the server's TLS certificate is not trusted: pass --ca FILE or set KMS_CA=FILE to trust it",
      "(a server with a self-signed certificate writes it to DIR/server.crt); -k skips verification (testing only)",
    ];
  }
  if (err.code === "ECONNREFUSED" || err.code === "ConnectionRefused") return ["is the server running, and is MINIO_KMS_SERVER right?"];
  return [];
}

/** Turns any error a command threw into what the user sees. */
export function describeFailure(err: unknown, ctx: FailureContext = {}): Failure {
  if (err instanceof CliError) return { message: err.message, hints: [], code: err.code };
  if (err instanceof KmsClientError) return { message: `${err.message} (HTTP ${err.status})`, hints: serverHints(err, ctx), status: err.status, code: 1 };
  if (err instanceof InvalidApiKeyError) return { message: `MINIO_KMS_API_KEY: ${err.message}`, hints: [], code: 1 }; // never quotes the key
  if (err instanceof TransportError) return { message: `cannot reach the server: ${err.message}`, hints: transportHints(err), code: 1 };
  // An unexpected error is a bug, but still one line: the stack only with KMS_DEBUG=1.
  const e = err as Error;
  const detail = process.env.KMS_DEBUG === "1" ? `\n${e?.stack}` : "";
  return { message: `unexpected error: ${e?.message ?? String(err)} (set KMS_DEBUG=1 for details)${detail}`, hints: [], code: 1 };
}

/** Prints a failure on stderr: `kms: MESSAGE` and indented hints, or one JSON object with --json. */
export function printFailure(f: Failure, json: boolean): void {
  if (json) {
    console.error(JSON.stringify({ error: { message: f.message, ...(f.status ? { status: f.status } : {}), ...(f.hints.length ? { hints: f.hints } : {}) } }));
    return;
  }
  console.error([`kms: ${f.message}`, ...f.hints.map((h) => `  ${h}`)].join("\n"));
}
