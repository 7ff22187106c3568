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
import { type BrowserContext, chromium, type Page } from "playwright-core";

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

/**
 * What the page in front of the user fails of WCAG's checks a script can
 * make: form controls without a label, buttons and links without a name,
 * and visible text whose contrast with what is behind it is under AA (4.5:1,
 * or 3:1 for large text). Disabled controls are exempt, as WCAG exempts them.
 */
export function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const visible = (el: Element) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
    const describe = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""} "${(el.textContent ?? "").trim().slice(0, 40)}"`;
    for (const el of document.querySelectorAll<HTMLInputElement>("input:not([type=hidden]), select, textarea")) {
      if (visible(el) && !el.labels?.length && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")) problems.push(`no label: ${el.outerHTML.slice(0, 80)}`);
    }
    for (const el of document.querySelectorAll("button, a[href]")) {
      if (visible(el) && !(el.textContent ?? "").trim() && !el.getAttribute("aria-label")) problems.push(`no name: ${el.outerHTML.slice(0, 80)}`);
    }
    const rgba = (css: string): number[] => (css.match(/[\d.]+/g) ?? ["0", "0", "0", "0"]).map(Number).concat(1).slice(0, 4);
    const over = (top: number[], bottom: number[]) => top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3])).concat(1);
    const background = (el: Element | null): number[] => {
      const layers: number[][] = [];
      for (let e = el; e; e = e.parentElement) {
        const bg = rgba(getComputedStyle(e).backgroundColor);
        if (bg[3] > 0) layers.push(bg);
        if (bg[3] >= 1) break;
      }
      return layers.reverse().reduce((acc, layer) => over(layer, acc), [255, 255, 255, 1]);
    };
    const luminance = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    for (const el of document.querySelectorAll("body *")) {
      const text = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim());
      if (!text || !visible(el) || el.closest(":disabled") || el.closest(".sr-only")) continue;
      const style = getComputedStyle(el);
      const bg = background(el);
      const fg = over(rgba(style.color), bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}:1: ${describe(el)} (${style.color} on rgb(${bg.slice(0, 3).map(Math.round).join(", ")}))`);
    }
    return problems;
  });
}
