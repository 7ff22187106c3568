/**
 * A real headless Chromium (Debian's `chromium` package; never a downloaded
 * browser) driven by playwright-core, for the console's end-to-end tests.
 * Each launch gets a fresh profile directory, trusts exactly the TLS keys it
 * is given, and is closed (and its profile removed) by close().
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { type BrowserContext, chromium } from "playwright-core";

/** The browser binary: Debian's chromium, or KMS_CHROMIUM. */
export const CHROMIUM = process.env.KMS_CHROMIUM ?? "/usr/bin/chromium";

/** Why browser tests cannot run here (no browser), or false. */
export const noBrowser: string | false = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}: apt-get install chromium (or set KMS_CHROMIUM)`;

/** Flags for a quiet, bounded headless run: no network of its own, no GPU, no updates, no sync. */
export const CHROMIUM_ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

/** The base64 SHA-256 of the SPKI of the certificate a TLS server at host:port presents (Chromium's pin format). */
export function serverSpkiHash(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: host === "127.0.0.1" ? undefined : host, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (!cert) return reject(new Error("the server presented no certificate"));
      const spki = cert.publicKey.export({ type: "spki", format: "der" });
      resolve(createHash("sha256").update(spki).digest("base64"));
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("TLS handshake timed out")));
    socket.once("error", reject);
  });
}

/** A running browser: its one context (fresh profile) and how to end it. */
export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile that trusts the TLS keys whose SPKI hashes are given. */
export async function launchBrowser(trustSpki: readonly string[]): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(os.tmpdir(), "kms-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${trustSpki.join(",")}`],
      viewport: { width: 1366, height: 800 },
      acceptDownloads: true,
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(30_000);
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
