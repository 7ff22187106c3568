/**
 * The AWS KMS scenario (tests/aws/scenario.json) run by @aws-sdk/client-kms,
 * the same script tests/aws/scenario.py runs with boto3: each step's error
 * name (or null), status, and the shape of its answer (field names and
 * types: blob, timestamp, string, number, boolean), so that runs with
 * either SDK, against kms or moto_server, can be compared.
 */
import { spawn } from "node:child_process";
import https from "node:https";
import path from "node:path";
import { readFileSync } from "node:fs";
import * as kms from "@aws-sdk/client-kms";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** The scenario file. */
export const SCENARIO_FILE = path.join(ROOT, "tests/aws/scenario.json");

/** One step of the scenario. */
export interface Step {
  readonly name: string;
  readonly op: string;
  readonly params?: Record<string, unknown>;
  readonly save?: Record<string, string>;
  readonly equal?: Record<string, unknown>;
  readonly expect?: string;
  /** What the JS SDK gets when it differs by design (it corrects clock skew from the reply's Date). */
  readonly jsExpect?: string;
  readonly auth?: "wrong-secret" | "bad-signature" | "unknown-key" | "skewed-clock";
}

/** A step's result, as both runners print it. */
export interface StepResult {
  readonly name: string;
  readonly op: string;
  readonly error: string | null;
  readonly status: number;
  readonly shape: unknown;
  readonly failures: string[];
  readonly message?: string;
  /** JS only: how many attempts the SDK made. */
  readonly attempts?: number;
}

/** Where and as whom the scenario runs. */
export interface Target {
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** PEM CA certificate of an https endpoint. */
  readonly ca?: string;
  readonly caFile?: string;
}

/** The scenario's steps. */
export function scenario(): Step[] {
  return JSON.parse(readFileSync(SCENARIO_FILE, "utf8")).steps;
}

/** A value's shape: objects by field, lists by their first item, leaves by type. */
export function shapeOf(v: unknown): unknown {
  if (v instanceof Uint8Array) return "blob";
  if (v instanceof Date) return "timestamp";
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0])] : [];
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).filter((k) => k !== "$metadata" && (v as Record<string, unknown>)[k] !== undefined).sort().map((k) => [k, shapeOf((v as Record<string, unknown>)[k])]));
  }
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number") return "number";
  if (typeof v === "string") return "string";
  return v === null ? "null" : typeof v;
}

function at(value: unknown, dotted: string): unknown {
  let v = value;
  for (const part of dotted.split(".")) v = v === null || typeof v !== "object" ? undefined : (v as Record<string, unknown>)[part];
  return v;
}

function resolve(value: unknown, saved: Map<string, unknown>): unknown {
  if (typeof value === "string") {
    if (value.startsWith("$")) {
      if (saved.get(value.slice(1)) === undefined) throw new LookupError(`no saved value ${value}`);
      return saved.get(value.slice(1));
    }
    if (value.startsWith("utf8:")) return new TextEncoder().encode(value.slice(5));
    if (value.startsWith("b64:")) return new Uint8Array(Buffer.from(value.slice(4), "base64"));
    return value;
  }
  if (Array.isArray(value)) return value.map((x) => resolve(x, saved));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, resolve(x, saved)]));
  return value;
}

class LookupError extends Error {}

const same = (a: unknown, b: unknown) =>
  a instanceof Uint8Array && b instanceof Uint8Array ? Buffer.from(a).equals(Buffer.from(b)) : JSON.stringify(a) === JSON.stringify(b);
const shown = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : JSON.stringify(v));

/** A KMS client for `target`, with an auth variant. */
export function kmsClient(target: Target, auth?: Step["auth"]): kms.KMSClient {
  const client = new kms.KMSClient({
    endpoint: target.endpoint,
    region: target.region,
    credentials: {
      accessKeyId: auth === "unknown-key" ? "KMSKUNKNOWN000000000" : target.accessKeyId,
      secretAccessKey: auth === "wrong-secret" ? [...target.secretAccessKey].reverse().join("") : target.secretAccessKey,
    },
    maxAttempts: auth === "skewed-clock" ? 3 : 1,
    ...(auth === "skewed-clock" ? { systemClockOffset: -15 * 60_000 } : {}),
    ...(target.ca ? { requestHandler: { httpsAgent: new https.Agent({ ca: target.ca }) } } : {}),
  });
  if (auth === "bad-signature") {
    client.middlewareStack.add((next) => async (args) => {
      const req = args.request as { headers: Record<string, string> };
      const h = req.headers.authorization;
      req.headers.authorization = h.slice(0, -1) + (h.endsWith("0") ? "1" : "0");
      return next(args);
    }, { step: "finalizeRequest", priority: "low", name: "tamperSignature" });
  }
  return client;
}

/** Runs the scenario with the JS SDK. */
export async function runJs(target: Target): Promise<StepResult[]> {
  const saved = new Map<string, unknown>();
  const results: StepResult[] = [];
  const base = kmsClient(target);
  try {
    for (const step of scenario()) {
      const client = step.auth ? kmsClient(target, step.auth) : base;
      const Command = (kms as unknown as Record<string, new (input: unknown) => kms.KMSClient["send"] extends (c: infer C) => unknown ? C : never>)[`${step.op}Command`];
      let error: string | null = null, status = 200, shape: unknown = null, message: string | undefined, attempts: number | undefined;
      const failures: string[] = [];
      try {
        const answer = await client.send(new Command(resolve(step.params ?? {}, saved)) as never) as Record<string, unknown> & { $metadata: { httpStatusCode?: number; attempts?: number } };
        status = answer.$metadata.httpStatusCode ?? 0;
        attempts = answer.$metadata.attempts;
        shape = shapeOf(answer);
        for (const [name, p] of Object.entries(step.save ?? {})) saved.set(name, at(answer, p));
        for (const [p, want] of Object.entries(step.equal ?? {})) {
          const got = at(answer, p), expected = resolve(want, saved);
          if (!same(got, expected)) failures.push(`${p}: expected ${shown(expected)}, got ${shown(got)}`);
        }
      } catch (err) {
        if (err instanceof LookupError) {
          error = "Skipped";
          message = err.message;
        } else {
          const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
          error = e.$metadata?.httpStatusCode ? e.name : `${e.name} (no answer)`;
          status = e.$metadata?.httpStatusCode ?? 0;
          attempts = e.$metadata?.attempts;
          message = e.message;
        }
      } finally {
        if (client !== base) client.destroy();
      }
      const expect = step.jsExpect ?? step.expect ?? "ok";
      if ((error ?? "ok") !== expect) failures.push(`expected ${expect}, got ${error ?? "ok"}`);
      results.push({ name: step.name, op: step.op, error, status, shape, failures, message, attempts });
    }
  } finally {
    base.destroy();
  }
  return results;
}

/** Runs the scenario with boto3 (tests/aws/scenario.py), with a deadline. */
export function runPython(target: Target, timeoutMs = 60_000): Promise<StepResult[]> {
  const args = [path.join(ROOT, "tests/aws/scenario.py"), SCENARIO_FILE, target.endpoint, target.region, target.accessKeyId, target.secretAccessKey, ...(target.caFile ? [target.caFile] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn("python3", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`scenario.py exited ${code}:\n${err.slice(-2000)}`));
      resolve(out.trim().split("\n").map((l) => JSON.parse(l)));
    });
  });
}

/**
 * The differences between two runs of the scenario, as readable lines:
 * error names, and answer shapes (fields present in one and not the other, or of another type).
 */
export function differences(a: readonly StepResult[], b: readonly StepResult[], ignore: (step: string, what: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const byName = new Map(b.map((r) => [r.name, r]));
  for (const ra of a) {
    const rb = byName.get(ra.name);
    if (!rb) {
      out.push(`${ra.name}: missing`);
      continue;
    }
    if (ra.error !== rb.error) {
      if (!ignore(ra.name, "error")) out.push(`${ra.name}: error ${ra.error ?? "none"} ≠ ${rb.error ?? "none"}`);
      continue;
    }
    for (const d of shapeDiff(ra.shape, rb.shape, "")) if (!ignore(ra.name, d.path)) out.push(`${ra.name}: ${d.path} ${d.what}`);
  }
  return out;
}

function shapeDiff(a: unknown, b: unknown, p: string): Array<{ path: string; what: string }> {
  if (Array.isArray(a) && Array.isArray(b)) return a.length && b.length ? shapeDiff(a[0], b[0], `${p}[]`) : [];
  if (a && b && typeof a === "object" && typeof b === "object") {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => {
      const x = (a as Record<string, unknown>)[k], y = (b as Record<string, unknown>)[k];
      const q = p ? `${p}.${k}` : k;
      if (x === undefined) return [{ path: q, what: "only in the second" }];
      if (y === undefined) return [{ path: q, what: "only in the first" }];
      return shapeDiff(x, y, q);
    });
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: p, what: `${JSON.stringify(a)} ≠ ${JSON.stringify(b)}` }];
}
