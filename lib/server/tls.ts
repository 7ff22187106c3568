import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { newServerCertificate } from "../identity/x509.ts";
import type { Store } from "../store/store.ts";

/** A PEM private key and certificate. */
export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

const RECORD = "n/tls";
/** Where the self-signed certificate (public) is written, so clients can trust it with --ca. */
export const CERT_FILE = "server.crt";

/** Reads a user-supplied certificate and key. */
export async function tlsFromFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { cert, key };
}

/**
 * The node's self-signed certificate, made on first start. Its private key is
 * kept encrypted in the store like all state; only the public certificate is
 * written as a plain file.
 */
export async function selfSignedTls(dir: string, store: Store, records: Map<string, Uint8Array>, extraHosts: string[]): Promise<TlsMaterial> {
  const saved = records.get(RECORD);
  if (saved) {
    const material = JSON.parse(new TextDecoder().decode(saved)) as TlsMaterial;
    // Clients are told to trust this file: put it back if someone removed it.
    await writeFile(path.join(dir, CERT_FILE), material.cert, { mode: 0o644 });
    return material;
  }
  const hosts = ["localhost", os.hostname(), "127.0.0.1", "::1", ...extraHosts];
  const material: TlsMaterial = newServerCertificate(hosts, "kms");
  await store.write([[RECORD, new TextEncoder().encode(JSON.stringify(material))]]);
  await writeFile(path.join(dir, CERT_FILE), material.cert, { mode: 0o644 });
  return material;
}
