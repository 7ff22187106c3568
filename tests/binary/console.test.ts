/**
 * The console in a real headless Chromium against real servers (the compiled
 * binary under KMS_BINARY, else the sources): sign in with the admin API key
 * without sending it, manage enclaves, keys, policies and identities; a User
 * whose policy allows only minio-* keys is denied another key in the CLI's
 * words; wrong keys and expired sessions are refused; the session cookie and
 * the Content-Security-Policy are what docs/console.md says. Screenshots of
 * every page go to KMS_CONSOLE_SHOTS (docs/console/ when refreshing them) or
 * a temporary directory.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page, Request } from "playwright-core";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { KmsClient } from "../../lib/client/client.ts";
import { kesApiKeyOf, newApiKey, parseApiKey } from "../../lib/identity/apikey.ts";
import { CONTENT_SECURITY_POLICY } from "../../lib/api/console/routes.ts";
import { kesAesEncrypt } from "../helpers/kes-format.ts";
import { accessibilityProblems, launchBrowser, noBrowser, serverSpkiHash, type TestBrowser } from "../helpers/browser.ts";
import { until } from "../helpers/cluster.ts";
import { framesOf, postNative } from "../helpers/e2e.ts";
import { cleanup, type KmsServer, runKms, startServer, tempDir } from "../helpers/kms.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const binary = process.env.KMS_BINARY ? path.resolve(ROOT, process.env.KMS_BINARY) : undefined;
const DENIED = "access denied: insufficient permissions";

let server: KmsServer;
/** A server whose console sessions end after 2 s unused. */
let shortLived: KmsServer;
/** A server with two serving threads (`--threads 2`): the browser's connections reach either thread. */
let threaded: KmsServer;
let browser: TestBrowser;
let page: Page;
let shots: string;
/** Every request the browser made, and every CSP violation it reported. */
const requests: Request[] = [];
const violations: string[] = [];
let userKey = "";
/** The native protocol's client, as the admin: sets up and checks what the page does. */
let client: KmsClient;

const origin = (s: KmsServer) => `https://127.0.0.1:${s.port}`;

/** Saves a screenshot of the page as NAME.png. */
async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
}

/** Goes to a console route and waits for its heading. */
async function open(route: string, heading: RegExp, on: KmsServer = server): Promise<void> {
  await page.goto(`${origin(on)}/console/#/${route}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
}

/** Signs in through the login form with an API key. */
async function signIn(apiKey: string, on: Page = page): Promise<void> {
  const field = on.getByLabel("API key");
  await field.waitFor();
  await field.fill(apiKey);
  await on.getByRole("button", { name: "Sign in" }).click();
}

/** The success message an action shows. */
async function done(text: string | RegExp): Promise<void> {
  await page.locator(".status.ok").filter({ hasText: text }).first().waitFor();
}

describe("console in headless Chromium", { skip: noBrowser }, () => {
  before(async () => {
    shots = process.env.KMS_CONSOLE_SHOTS ? path.resolve(ROOT, process.env.KMS_CONSOLE_SHOTS) : tempDir("kms-console-shots-");
    mkdirSync(shots, { recursive: true });
    [server, shortLived, threaded] = await Promise.all([
      startServer({ binary }),
      startServer({ binary, extraArgs: ["--console-session", "2s"] }),
      startServer({ binary, extraArgs: ["--threads", "2"] }),
    ]);
    client = server.client();
    browser = await launchBrowser(await Promise.all([server, shortLived, threaded].map((s) => serverSpkiHash("127.0.0.1", s.port))));
    browser.context.on("request", (r) => requests.push(r));
    page = await browser.context.newPage();
    page.on("console", (m) => {
      if (/Content.Security.Policy|Refused to|Trusted Type/i.test(m.text())) violations.push(m.text());
    });
  });

  after(async () => {
    client?.close();
    await browser?.close();
    await cleanup();
  });

  it("serves the page from the node itself with a strict CSP and no inline code", async () => {
    const res = await page.goto(`${origin(server)}/console/`);
    assert.equal(res?.status(), 200);
    const headers = res!.headers();
    assert.equal(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      assert.ok(CONTENT_SECURITY_POLICY.split("; ").includes(directive), directive);
    }
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-|https?:|\*/);
    assert.equal(headers["x-content-type-options"], "nosniff");
    assert.equal(headers["x-frame-options"], "DENY");
    await page.getByLabel("API key").waitFor();
    const inline = await page.evaluate(() => ({
      scripts: document.querySelectorAll("script:not([src])").length,
      styled: document.querySelectorAll("[style]").length,
      handlers: [...document.querySelectorAll("*")].filter((el) => [...el.attributes].some((a) => a.name.startsWith("on"))).length,
    }));
    assert.deepEqual(inline, { scripts: 0, styled: 0, handlers: 0 });
  });

  it("the admin signs in without sending the API key; the session cookie is HttpOnly, Secure, SameSite=Strict", async () => {
    const login = page.waitForResponse((r) => r.url().endsWith("/console/api/login"));
    await signIn(server.apiKey);
    const res = await login;
    assert.equal(res.status(), 200);
    const setCookie = (await res.headerValue("set-cookie")) ?? "";
    assert.match(setCookie, /^__Host-kms-console=[A-Za-z0-9_-]{43};/);
    for (const attr of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=28800"]) assert.ok(setCookie.split("; ").includes(attr), `${attr} in ${setCookie}`);
    assert.doesNotMatch(setCookie, /Domain=/i);
    const [cookie] = (await browser.context.cookies()).filter((c) => c.name === "__Host-kms-console");
    assert.ok(cookie, "the browser keeps the session cookie");
    assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path], [true, true, "Strict", "/"]);
    // Signed in: the shell shows the identity, and lands on the cluster page.
    await page.getByRole("heading", { level: 1, name: "Cluster" }).waitFor();
    await page.getByText("Writes: possible (every node is up)").waitFor();
    await page.locator("header .who").filter({ hasText: parseApiKey(server.apiKey).identity }).waitFor();
    // The key went nowhere: not in any request, not in storage, not in script-readable cookies.
    const sent = requests.map((r) => `${r.url()} ${r.postData() ?? ""}`).join("\n");
    assert.ok(!sent.includes(server.apiKey.slice(3)), "the API key was sent to the server");
    const stored = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length, cookies: document.cookie }));
    assert.deepEqual(stored, { local: 0, session: 0, cookies: "" });
  });

  it("adds a node to the cluster and removes it (SysAdmin)", async () => {
    const fresh = await startServer({ binary, hsmKey: server.hsmKey });
    await page.getByLabel("Address (HOST:PORT)").fill(fresh.address);
    await page.getByRole("button", { name: "Add node" }).click();
    await done(`Added ${fresh.address} to the cluster`);
    const row = page.getByRole("row").filter({ hasText: fresh.address });
    await row.getByText("Follower").waitFor();
    await row.getByText("up", { exact: true }).waitFor();
    await shot("cluster");
    await page.getByRole("button", { name: `Remove node 1 (${fresh.address})` }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel(/to confirm/).fill(fresh.address);
    await dialog.getByRole("button", { name: "Remove node" }).click();
    await done(`Removed ${fresh.address} from the cluster`);
    await page.getByText("Writes: possible (every node is up)").waitFor();
    await row.waitFor({ state: "detached" });
  });

  it("creates an enclave and a key, rotates it to version 2, and deletes it", async () => {
    await open("enclaves", /Enclaves/);
    await page.getByLabel("Name").fill("tenant-1");
    await page.getByRole("button", { name: "Create enclave" }).click();
    await done("Created enclave tenant-1");
    await page.getByRole("link", { name: "tenant-1" }).waitFor();
    await shot("enclaves");

    await open("keys/tenant-1", /Keys in/);
    const create = page.locator("form", { has: page.getByRole("button", { name: "Create key" }) });
    for (const name of ["key-1", "minio-key", "other-key"]) {
      await create.getByLabel("Name").fill(name);
      await create.getByRole("button", { name: "Create key" }).click();
      await done(`Created key ${name} v1 in enclave tenant-1`);
    }
    await page.getByRole("button", { name: "Rotate key-1" }).click();
    await done("Added version key-1 v2 in enclave tenant-1");
    await shot("keys");
    await page.getByRole("link", { name: "key-1" }).click();
    await page.getByRole("heading", { level: 1, name: /Key key-1/ }).waitFor();
    assert.equal(await page.getByTestId("latest-version").textContent(), "2");
    await page.getByRole("cell", { name: "v1", exact: true }).waitFor();
    await shot("key");

    await page.getByRole("button", { name: "Delete key", exact: true }).click();
    const dialog = page.getByRole("dialog");
    const confirm = dialog.getByRole("button", { name: "Delete key" });
    assert.equal(await confirm.isDisabled(), true, "deleting needs the typed name first");
    await dialog.getByLabel(/Type key-1 to confirm/).fill("key-1");
    await confirm.click();
    await page.getByRole("heading", { level: 1, name: /Keys in/ }).waitFor();
    await page.getByRole("link", { name: "minio-key" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "key-1", exact: true }).count(), 0);
    const gone = await runKms(["stat-key", "--enclave", "tenant-1", "key-1"], server.env());
    assert.match(gone.stderr, /key does not exist \(HTTP 404\)/);
  });

  it("imports key material, and the playground decrypts a KES ciphertext made under it and MACs as the server does", async () => {
    const material = randomBytes(32);
    await open("keys/tenant-1", /Keys in/);
    const imp = page.locator("form", { has: page.getByRole("button", { name: "Import key" }) });
    const field = imp.getByLabel("Key (32 bytes, base64)");
    await imp.getByLabel("Name").fill("imported-key");
    // Not 32 bytes: refused in the page, nothing sent.
    await field.fill(randomBytes(16).toString("base64"));
    const before = requests.length;
    await imp.getByRole("button", { name: "Import key" }).click();
    await page.getByRole("alert").filter({ hasText: "invalid key: must be 32 bytes, in base64" }).waitFor();
    assert.equal(requests.slice(before).filter((r) => r.url().includes("/console/api/")).length, 0);
    await field.fill(material.toString("base64"));
    await imp.getByRole("button", { name: "Import key" }).click();
    await done("Imported key imported-key in enclave tenant-1");
    assert.equal(await field.inputValue(), "", "the key material is cleared from the form");

    // A ciphertext KES would have made with that material (written apart from lib/) opens in the page.
    const ciphertext = kesAesEncrypt(material, Buffer.from("made by KES"), Buffer.from("bucket-1"));
    await open("playground/tenant-1/imported-key", /Playground in/);
    await page.getByLabel("Operation", { exact: true }).selectOption("Decrypt");
    await page.getByLabel("Ciphertext (base64)").fill(Buffer.from(ciphertext).toString("base64"));
    await page.getByLabel("Context (associated data)").fill("bucket-1");
    await page.getByRole("button", { name: "Run" }).click();
    await page.getByTestId("plaintext").filter({ hasText: /^made by KES$/ }).waitFor();
    // The wrong context does not open it, and says so in the protocol's words.
    await page.getByLabel("Context (associated data)").fill("bucket-2");
    await page.getByRole("button", { name: "Run" }).click();
    await page.getByRole("alert").filter({ hasText: "invalid ciphertext (HTTP 400)" }).waitFor();

    // MAC: the page shows what the native client gets for the same message.
    await page.getByLabel("Operation", { exact: true }).selectOption("MAC");
    await page.getByLabel("Message").fill("hello");
    await page.getByRole("button", { name: "Run" }).click();
    await done("MAC with imported-key v1");
    const { mac } = await client.mac("tenant-1", "imported-key", Buffer.from("hello")) as { mac: Uint8Array };
    assert.equal(await page.getByTestId("mac").textContent(), Buffer.from(mac).toString("base64"));
  });

  it("a key's page deletes one version (Escape cancels first), and the key list searches and pages", async () => {
    await client.createKey("tenant-1", "rotated");
    for (let i = 0; i < 2; i++) await client.createKey("tenant-1", "rotated", "", true);
    await open("key/tenant-1/rotated", /Key rotated/);
    assert.equal(await page.getByTestId("latest-version").textContent(), "3");
    const versions = page.getByRole("table", { name: "Versions of key rotated" });
    assert.equal(await versions.getByRole("row").count(), 1 + 3);
    // Keyboard only: the dialog opens on Cancel, Tab stays inside it, Escape cancels.
    await page.getByRole("button", { name: "Delete version 2" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Delete version 2 of rotated?" });
    await dialog.waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.closest("dialog") ? document.activeElement.textContent : null);
    const seen: Array<string | null> = [await focused()];
    for (const key of ["Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab"]) {
      await page.keyboard.press(key);
      seen.push(await focused());
    }
    assert.deepEqual(seen, ["Cancel", "Delete version", "Cancel", "Delete version", "Cancel", "Delete version"]);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal((await client.keyStatus("tenant-1", "rotated", 2) as { version: number }).version, 2, "Escape deleted nothing");

    await page.getByRole("button", { name: "Delete version 2" }).click();
    await dialog.getByRole("button", { name: "Delete version" }).click();
    await done("Deleted rotated v2 in enclave tenant-1");
    await until(async () => (await versions.getByRole("row").count()) === 1 + 2 || "v2 still listed", "the versions table");
    assert.deepEqual(await versions.locator("tbody tr td:first-child").allTextContents(), ["v3 (latest)", "v1"]);
    await assert.rejects(client.keyStatus("tenant-1", "rotated", 2), /key does not exist/);

    // 21 keys: a page of 20, then one; a prefix that matches nothing says so.
    for (let i = 0; i <= 20; i++) await client.createKey("tenant-1", `page-${String(i).padStart(2, "0")}`);
    await open("keys/tenant-1", /Keys in/);
    const search = page.getByRole("search", { name: "Search keys" });
    await search.getByLabel("Name starts with").fill("page-");
    await search.getByRole("button", { name: "Search" }).click();
    const list = page.getByRole("table", { name: "Keys in enclave tenant-1" });
    await list.getByRole("link", { name: "page-19" }).waitFor();
    assert.equal(await list.locator("tbody tr").count(), 20);
    assert.equal(await list.getByRole("link", { name: /^(key-1|minio-key|rotated)$/ }).count(), 0);
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByText("Page 2").waitFor();
    assert.deepEqual(await page.getByRole("table", { name: "Keys in enclave tenant-1" }).locator("tbody tr td:first-child").allTextContents(), ["page-20"]);
    assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true);
    await page.getByRole("button", { name: "Previous page" }).click();
    await page.getByText("Page 1").waitFor();
    await list.getByRole("link", { name: "page-00" }).waitFor();
    await search.getByLabel("Name starts with").fill("nothing-");
    await search.getByRole("button", { name: "Search" }).click();
    await page.getByText("No keys starting with 'nothing-' (or none you may list).").waitFor();
  });

  it("k2: (ECDSA P-256, P-384, P-521) and kes:v1: API keys sign in too: the page derives the identity the server knows", async () => {
    const keys = ["P-256", "P-384", "P-521"].map((namedCurve) => {
      const d = generateKeyPairSync("ec", { namedCurve }).privateKey.export({ format: "jwk" }).d!;
      return "k2:" + d;
    });
    keys.push(kesApiKeyOf(newApiKey())!);
    for (const key of keys) {
      const identity = parseApiKey(key).identity;
      const added = await runKms(["add-identity", "--enclave", "tenant-1", "--privilege", "Admin", identity], server.env());
      assert.equal(added.code, 0, added.stderr);
      await page.getByRole("button", { name: "Sign out" }).click();
      await signIn(key);
      await page.locator("header .who").filter({ hasText: identity }).waitFor();
      await page.getByRole("heading", { level: 1, name: /Keys in/ }).waitFor();
    }
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(server.apiKey);
    await page.getByRole("heading", { level: 1, name: "Cluster" }).waitFor();
  });

  it("writes a policy that allows only minio-* keys, and an identity holding it whose API key is made in the page", async () => {
    await open("policies/tenant-1", /Policies in/);
    await page.getByLabel("Name", { exact: true }).fill("minio");
    await page.getByText("Valid: 6 rule(s).").waitFor();
    // A misspelt command is caught as the CLI catches it, before anything is sent.
    const editor = page.getByLabel(/Rules \(YAML or JSON/);
    const example = await editor.inputValue();
    await editor.fill(example.replace("KEY:GENERATE", "KEY:GENERAT"));
    await page.getByText("invalid policy: allow: unknown command 'KEY:GENERAT'; did you mean 'KEY:GENERATE'?").waitFor();
    await editor.fill(example);
    await page.getByRole("button", { name: "Save policy" }).click();
    await done("Saved policy minio in enclave tenant-1");
    await page.getByRole("cell", { name: "minio", exact: true }).waitFor();
    await shot("policies");

    await open("identities/tenant-1", /Identities in/);
    await page.getByRole("button", { name: "Generate a new API key" }).click();
    const identity = await page.getByLabel("Identity", { exact: true }).inputValue();
    assert.match(identity, /^h1:[A-Za-z0-9_-]{43}$/);
    await page.getByLabel("Policy", { exact: true }).selectOption("minio");
    await page.getByRole("button", { name: "Create identity" }).click();
    const dialog = page.getByRole("dialog", { name: "Save the API key now" });
    userKey = await dialog.getByLabel("API key").inputValue();
    assert.match(userKey, /^k1:/);
    const download = page.waitForEvent("download");
    await dialog.getByRole("link", { name: "Download the API key" }).click();
    const file = await (await download).path();
    assert.match(await Bun.file(file).text(), new RegExp(`MINIO_KMS_API_KEY=${userKey}\\n`));
    await page.screenshot({ path: path.join(shots, "identity-key.png"), mask: [dialog.getByLabel("API key")] });
    await dialog.getByRole("button", { name: "Done" }).click();
    await page.getByRole("cell", { name: identity, exact: true }).waitFor();
    await shot("identities");

    // "Would this identity be allowed to …?", decided as the server decides.
    await open("policies/tenant-1", /Policies in/);
    const check = page.locator("form", { has: page.getByRole("button", { name: "Check" }) });
    await check.getByLabel("Identity", { exact: true }).fill(identity);
    await check.getByLabel("Command").selectOption("KEY:GENERATE");
    await check.getByLabel(/Key, policy or identity name/).fill("other-key");
    await check.getByRole("button", { name: "Check" }).click();
    await page.getByTestId("verdict").filter({ hasText: "Denied: KEY:GENERATE on other-key for this identity by policy minio" }).waitFor();
    await check.getByLabel(/Key, policy or identity name/).fill("minio-key");
    await check.getByRole("button", { name: "Check" }).click();
    const verdict = page.getByTestId("verdict").filter({ hasText: "Allowed: KEY:GENERATE on minio-key" });
    await verdict.waitFor();
    await verdict.scrollIntoViewIfNeeded();
    await shot("policy-check");
  });

  it("deletes an enclave once its name is typed, and assigns a policy to an identity", async () => {
    await client.createEnclave("scratch");
    await open("enclaves", /Enclaves/);
    await page.getByRole("button", { name: "Delete enclave scratch" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete enclave scratch?" });
    const confirm = dialog.getByRole("button", { name: "Delete enclave" });
    await dialog.getByLabel(/to confirm/).fill("scratc");
    assert.equal(await confirm.isDisabled(), true, "a name typed wrong deletes nothing");
    await dialog.getByLabel(/to confirm/).fill("scratch");
    await confirm.click();
    await done("Deleted enclave scratch");
    await assert.rejects(client.enclaveStatus("scratch"), /enclave does not exist/);
    await page.getByRole("link", { name: "tenant-1" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "scratch" }).count(), 0);

    const someone = parseApiKey(newApiKey()).identity;
    await client.createIdentity("tenant-1", someone, "User");
    await open("identities/tenant-1", /Identities in/);
    await page.getByRole("button", { name: `Assign a policy to ${someone}` }).click();
    const assign = page.getByRole("dialog", { name: "Assign a policy" });
    await assign.getByLabel("Policy").selectOption("minio");
    await assign.getByRole("button", { name: "Assign" }).click();
    await done(`Assigned policy minio to ${someone}`);
    assert.equal((await client.identityStatus("tenant-1", someone) as { policy: string }).policy, "minio");
  });

  it("every page labels its controls, names its buttons and links, and meets WCAG AA contrast", async () => {
    const pages: Array<[string, RegExp]> = [
      ["cluster", /Cluster/], ["enclaves", /Enclaves/], ["keys/tenant-1", /Keys in/], ["key/tenant-1/minio-key", /Key minio-key/],
      ["playground/tenant-1/minio-key", /Playground in/], ["identities/tenant-1", /Identities in/], ["policies/tenant-1", /Policies in/],
      ["metrics", /Metrics/], ["audit", /Audit/],
    ];
    const problems: string[] = [];
    for (const [route, heading] of pages) {
      await open(route, heading);
      // Loaded, not loading: the checks are of what the user reads.
      await until(async () => (await page.locator(".status.loading").count()) === 0 || "still loading", `${route} loaded`);
      problems.push(...(await accessibilityProblems(page)).map((p) => `${route}: ${p}`));
    }
    // A dialog, an error and the login form too.
    await open("key/tenant-1/minio-key", /Key minio-key/);
    await page.getByRole("button", { name: "Delete key", exact: true }).click();
    await page.getByRole("dialog").waitFor();
    problems.push(...(await accessibilityProblems(page)).map((p) => `dialog: ${p}`));
    await page.keyboard.press("Escape");
    await open("playground/tenant-1/no-such-key", /Playground in/);
    await page.getByRole("button", { name: "Run" }).click();
    await page.getByRole("alert").waitFor();
    problems.push(...(await accessibilityProblems(page)).map((p) => `error: ${p}`));
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Signed out.").waitFor();
    problems.push(...(await accessibilityProblems(page)).map((p) => `login: ${p}`));
    assert.deepEqual(problems, []);
    await signIn(server.apiKey);
    await page.getByRole("heading", { level: 1, name: "Cluster" }).waitFor();
  });

  it("shows the playground, and the node's own metrics and audit stream", async () => {
    await open("playground/tenant-1/minio-key", /Playground in/);
    await page.getByLabel("Plaintext").fill("my secret");
    await page.getByRole("button", { name: "Run" }).click();
    await done("Encrypted with minio-key v1");
    const ciphertext = (await page.getByTestId("ciphertext").textContent())!;
    await page.getByLabel("Operation", { exact: true }).selectOption("Decrypt");
    await page.getByLabel("Ciphertext (base64)").fill(ciphertext);
    await page.getByRole("button", { name: "Run" }).click();
    assert.equal(await page.getByTestId("plaintext").filter({ hasText: "my secret" }).textContent(), "my secret");
    await shot("playground");

    // The node's own metrics and audit stream, read through the console as the signed-in identity.
    await open("metrics", /Metrics/);
    await page.getByText(/Collecting a second sample to compute rates…|This node, updated every 5 s\./).waitFor();
    await client.generate("tenant-1", "minio-key");
    await page.getByText("This node, updated every 5 s.").waitFor({ timeout: 30_000 });
    await page.getByRole("img", { name: /^Operations per second, by command: .*KEY:GENERATE/ }).waitFor({ timeout: 30_000 });
    await shot("metrics");
    await open("audit", /Audit/);
    await page.getByText("Streaming this node's audit records.").waitFor();
    // A record made after the page connected arrives on the open stream.
    await until(async () => {
      await client.generate("tenant-1", "minio-key");
      return (await page.getByRole("cell", { name: /KEY:GENERATE|\/v1\/kms\/tenant-1/ }).count()) > 0 || "no record of the GENERATE yet";
    }, "a GENERATE on the audit page", 30_000, 500);
    await shot("audit");
  });

  it("the metrics page charts Prometheus text, and the audit page filters JSON lines (served by the test, so rates and filters are exact)", async () => {
    // A browser of its own: a fake clock belongs to the whole context, and would stop the other page's timers.
    const own = await launchBrowser([await serverSpkiHash("127.0.0.1", server.port)]);
    try {
      const p = await own.context.newPage();
      let scrapes = 0;
      await p.route("**/console/api/metrics", (route) => route.fulfill({ status: 200, contentType: "text/plain; version=0.0.4", body: metricsText(++scrapes) }));
      await p.route("**/console/api/audit", (route) => route.fulfill({ status: 200, contentType: "application/x-ndjson", body: AUDIT_LINES }));
      // Paused: the page's clock moves only when the test moves it, so rates are exact.
      const start = new Date("2026-12-03T19:00:00Z");
      // (Installed an hour before: the clock runs between the two calls, and pauseAt only goes forward.)
      await p.clock.install({ time: new Date(start.getTime() - 3_600_000) });
      await p.clock.pauseAt(start);
      await p.goto(`${origin(server)}/console/#/metrics`);
      await signIn(server.apiKey, p);
      await p.getByText("Collecting a second sample to compute rates…").waitFor();
      // Each scrape is drawn before the clock moves on (its time is read when it is drawn).
      for (const [gen] of TRAFFIC) {
        await p.clock.runFor(5_000);
        await p.getByRole("img", { name: new RegExp(`^Operations per second, by command: KEY:GENERATE ${gen / 5} ops/s`) }).waitFor();
      }
      await p.getByText(`This node, updated every 5 s.`).waitFor();
      assert.equal(scrapes, 1 + TRAFFIC.length);
      // Last 5 s: 1,000 GENERATE and 505 DECRYPT (5 failed); latency from the histogram's buckets.
      await p.getByRole("img", { name: "Operations per second, by command: KEY:GENERATE 200 ops/s, KEY:DECRYPT 101 ops/s" }).waitFor();
      await p.getByRole("img", { name: "Latency: p50 0.625 ms, p99 5 ms" }).waitFor();
      await p.getByRole("img", { name: "Errors per second: errors 1 errors/s" }).waitFor();
      assert.equal(await p.locator("path.line").count(), 5);
      await p.screenshot({ path: path.join(shots, "metrics-charts.png") });

      await p.goto(`${origin(server)}/console/#/audit`);
      await p.getByText("The audit stream ended.").waitFor();
      assert.equal(await p.getByRole("row").count(), 1 + 3);
      await p.getByLabel("Status").fill("403");
      await until(async () => (await p.getByRole("row").count()) === 2 || "not filtered yet", "the status filter");
      await p.getByRole("cell", { name: "KEY:GENERATE" }).waitFor();
      await p.getByLabel("Status").fill("");
      await p.getByLabel("Enclave").last().fill("tenant-1");
      await until(async () => (await p.getByRole("row").count()) === 3 || "not filtered yet", "the enclave filter");
      await p.screenshot({ path: path.join(shots, "audit-stream.png") });
    } finally {
      await own.close();
    }
  });

  it("a User whose policy allows only minio-* keys sees only those, and is denied another key in the CLI's words", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Signed out.").waitFor();
    await signIn(userKey);
    await page.getByRole("heading", { level: 1, name: /Keys in/ }).waitFor();
    await page.getByRole("link", { name: "minio-key" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "other-key" }).count(), 0, "other-key is not listed to this User");

    await open("playground/tenant-1/other-key", /Playground in/);
    await page.getByLabel("Operation", { exact: true }).selectOption("Generate a data key");
    await page.getByRole("button", { name: "Run" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    const shown = (await alert.locator("strong").textContent())!;
    assert.equal(shown, `${DENIED} (HTTP 403)`);
    const identity = parseApiKey(userKey).identity;
    assert.match((await alert.locator("pre").textContent())!, new RegExp(`^you are ${identity} \\(KES identity [0-9a-f]{64}\\)`));
    await shot("denied");
    // The CLI says the same.
    const cli = await runKms(["keygen", "--enclave", "tenant-1", "other-key"], { ...server.env(), MINIO_KMS_API_KEY: userKey });
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.split("\n")[0], `kms: ${shown}`);
    // And the page's own allowed case works.
    await page.getByLabel("Key", { exact: true }).fill("minio-key");
    await page.getByRole("button", { name: "Run" }).click();
    await done("Generated a data key with minio-key v1");
    // Cluster pages are SysAdmin-only: the same denial.
    await open("cluster", /Cluster/);
    await page.getByRole("alert").filter({ hasText: `${DENIED} (HTTP 403)` }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("Signed out.").waitFor();
  });

  it("a wrong API key is refused, and a malformed one never leaves the page", async () => {
    await page.goto(`${origin(server)}/console/`);
    await signIn(newApiKey());
    await page.getByRole("alert").filter({ hasText: `${DENIED} (HTTP 403)` }).waitFor();
    await shot("login-refused");
    const before = requests.length;
    await signIn("k1:not-a-key");
    await page.getByRole("alert").filter({ hasText: "invalid API key: malformed base64url" }).waitFor();
    assert.deepEqual(requests.slice(before).map((r) => r.url()).filter((u) => u.includes("/console/api/")), [], "a malformed key made a request");
    assert.equal(await page.getByRole("heading", { level: 1, name: "kms console" }).count(), 1, "still on the login page");
  });

  it("on a node with two serving threads: signs in, lists keys, and streams audit records of GENERATEs served by either thread", async () => {
    await page.goto(`${origin(threaded)}/console/`);
    await signIn(threaded.apiKey);
    await page.getByRole("heading", { level: 1, name: "Cluster" }).waitFor();
    const own = threaded.client();
    try {
      await own.createEnclave("threads");
      await own.createKey("threads", "thread-key");
      await open("keys/threads", /Keys in/, threaded);
      await page.getByRole("cell", { name: "thread-key" }).first().waitFor();
      await open("audit", /Audit/, threaded);
      await page.getByText("Streaming this node's audit records.").waitFor();
      // Each GENERATE on a fresh connection: the kernel gives each to either thread, and a thread's records reach the stream.
      const generate = framesOf([{ id: 207, request: "GenerateKeyRequest", message: { name: "thread-key" } }]);
      const served = new Set<string>();
      await until(async () => {
        const r = await postNative(threaded, "threads", generate);
        assert.equal(r.status, 200, r.body.toString());
        served.add(String(r.headers["x-request-id"]).split("-")[0]);
        return (served.size === 2 && (await page.getByRole("cell", { name: /KEY:GENERATE|\/v1\/kms\/threads/ }).count()) > 0) ||
          `threads served: ${served.size}; no record of a GENERATE yet`;
      }, "GENERATEs from both threads, and one on the audit page", 30_000, 200);
    } finally {
      own.close();
    }
  });

  it("an expired session is refused: the page asks to sign in again, and the old cookie opens nothing", async () => {
    await page.goto(`${origin(shortLived)}/console/`);
    const login = page.waitForResponse((r) => r.url().endsWith("/console/api/login"));
    await signIn(shortLived.apiKey);
    const expiresAt = Date.parse((await (await login).json() as { expires_at: string }).expires_at);
    const [cookie] = (await browser.context.cookies(origin(shortLived))).filter((c) => c.name === "__Host-kms-console");
    // The cluster page refreshes every 5 s, longer than the 2 s the session lasts unused.
    await page.getByText("session expired: sign in again").waitFor({ timeout: 60_000 });
    assert.ok(Date.now() >= expiresAt);
    await page.getByLabel("API key").waitFor();
    const res = await fetchWithCookie(shortLived, "/console/api/session", cookie.value);
    assert.equal(res.status, 401);
  });

  it("the page loaded nothing from anywhere but the node it came from, and broke no CSP rule", () => {
    const origins = new Set(requests.map((r) => new URL(r.url()).origin).filter((o) => o !== "null"));
    assert.deepEqual([...origins].sort(), [origin(server), origin(shortLived), origin(threaded)].sort());
    assert.ok(requests.length > 20, `only ${requests.length} requests seen`);
    assert.equal(violations.length, 0, `CSP violations: ${violations.join("; ")}`);
  });
});

/** Each 5 s of traffic: GENERATE ok, DECRYPT ok, DECRYPT failed, and the share of requests done within 1 ms. */
const TRAFFIC: ReadonlyArray<readonly [number, number, number, number]> = [
  [600, 300, 0, 0.85], [750, 420, 2, 0.8], [900, 380, 0, 0.75], [820, 500, 8, 0.7], [1100, 450, 3, 0.8], [950, 520, 1, 0.85], [1000, 500, 5, 0.8],
];

/** Prometheus text as a node might serve it at its `n`th scrape: the totals of TRAFFIC's first n - 1 intervals. */
function metricsText(n: number): string {
  const seen = TRAFFIC.slice(0, n - 1);
  const sum = (f: (t: readonly [number, number, number, number]) => number) => Math.round(seen.reduce((acc, t) => acc + f(t), 0));
  return [
    "# TYPE kms_commands_total counter",
    `kms_commands_total{command="KEY:GENERATE",outcome="ok"} ${sum((t) => t[0])}`,
    `kms_commands_total{command="KEY:DECRYPT",outcome="ok"} ${sum((t) => t[1])}`,
    `kms_commands_total{command="KEY:DECRYPT",outcome="error"} ${sum((t) => t[2])}`,
    "# TYPE kms_http_request_duration_seconds histogram",
    `kms_http_request_duration_seconds_bucket{le="0.001"} ${sum((t) => t[0] * t[3])}`,
    `kms_http_request_duration_seconds_bucket{le="0.005"} ${sum((t) => t[0] * 0.99)}`,
    `kms_http_request_duration_seconds_bucket{le="0.01"} ${sum((t) => t[0])}`,
    `kms_http_request_duration_seconds_bucket{le="+Inf"} ${sum((t) => t[0])}`,
    `kms_http_request_duration_seconds_count ${sum((t) => t[0])}`,
    "",
  ].join("\n");
}

/** Audit records as JSON lines. */
const AUDIT_LINES = [
  { time: "2026-12-03T19:00:00.000Z", identity: "h1:AAAA", enclave: "tenant-1", command: "KEY:CREATE", object: "minio-key", status: 200, duration: "3ms" },
  { time: "2026-12-03T19:00:01.000Z", identity: "h1:BBBB", enclave: "tenant-1", command: "KEY:GENERATE", object: "other-key", status: 403, duration: "0ms" },
  { time: "2026-12-03T19:00:02.000Z", identity: "h1:AAAA", enclave: "tenant-2", command: "KEY:LIST", object: "", status: 200, duration: "1ms" },
].map((r) => JSON.stringify(r)).join("\n") + "\n";

/** A GET to a server with a session cookie, outside the browser (trusting the server's CA). */
async function fetchWithCookie(s: KmsServer, route: string, value: string): Promise<{ status: number; body: string }> {
  const https = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port: s.port, path: route, ca: s.ca, headers: { cookie: `__Host-kms-console=${value}` }, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
