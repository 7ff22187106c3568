/**
 * A load-generating process. It opens its keep-alive TLS connections, prints
 * "ready", waits for "go" on stdin, then keeps one request in flight on each
 * connection until its time is up (or its share of a counted load is done),
 * and prints one JSON line: a WorkerResult. Started by load.ts, never by hand.
 */
import { createInterface } from "node:readline";
import { decode } from "../../lib/wire/proto.ts";
import { clientCredentials, parseApiKey } from "../../lib/identity/apikey.ts";
import { type Histogram, record } from "./histogram.ts";
import { Http1Connection, postRequest } from "./http1.ts";
import { createBody, enclavePath, fixedBodies, keyName, type Load } from "./loads.ts";

/** What one worker does (passed as JSON in argv[2]). */
export interface WorkerSpec {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly apiKey: string;
  readonly connections: number;
  readonly load: Load;
  /** Run for this long… */
  readonly seconds?: number;
  /** …or until the create load's range is done. */
  readonly untilDone?: boolean;
}

/** What one worker reports. */
export interface WorkerResult {
  readonly requests: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly latency: Histogram;
  /** CPU seconds this worker used from "go" to its report. */
  readonly cpuSeconds: number;
}

// A request slower than this counts as an error and its connection is dropped.
const REQUEST_DEADLINE_MS = 60_000;

const spec = JSON.parse(process.argv[2]) as WorkerSpec;
const creds = clientCredentials(parseApiKey(spec.apiKey));
const endpoint = { host: spec.host, port: spec.port, ca: spec.ca, key: creds.key, cert: creds.cert };
const path = enclavePath(spec.load.enclave);
const fixed = spec.load.kind === "create" ? [] : fixedBodies(spec.load).map((b) => postRequest(spec.host, path, b));

const connections = await Promise.all(Array.from({ length: spec.connections }, () => Http1Connection.connect(endpoint)));
const lines = createInterface({ input: process.stdin });
const go = new Promise<void>((resolve) => lines.on("line", (l) => l.trim() === "go" && resolve()));
lines.on("close", () => process.exit(1)); // the harness went away
console.log("ready");
await go;
const cpuAtGo = process.cpuUsage();

const latency: Histogram = {};
let requests = 0, errors = 0, firstError: string | undefined;
let nextName = spec.load.kind === "create" ? spec.load.from : 0;
let nextFixed = 0;
const end = performance.now() + (spec.seconds ?? Infinity) * 1000;

/** The next request to send, or undefined when a counted load is done. */
function nextRequest(): Buffer | undefined {
  const load = spec.load;
  if (load.kind !== "create") return fixed[nextFixed++ % fixed.length];
  if (load.to !== undefined && nextName >= load.to) return undefined;
  return postRequest(spec.host, path, createBody(keyName(load.prefix, nextName++)));
}

function fail(message: string): void {
  errors++;
  firstError ??= message;
}

const watchdog = setInterval(() => {
  const now = performance.now();
  for (const c of connections) if (c.sentAt && now - c.sentAt > REQUEST_DEADLINE_MS) c.destroy(new Error("request deadline passed"));
}, 1000);

await Promise.all(connections.map(async (c) => {
  while (spec.untilDone || performance.now() < end) {
    const request = nextRequest();
    if (!request) break;
    const sent = performance.now();
    try {
      const reply = await c.send(request);
      record(latency, performance.now() - sent);
      requests++;
      if (reply.status !== 200) fail(`HTTP ${reply.status}: ${errorMessage(reply.body)}`);
    } catch (err) {
      fail((err as Error).message);
      return; // the connection is gone
    }
  }
}));
clearInterval(watchdog);
for (const c of connections) c.destroy();
const used = process.cpuUsage(cpuAtGo);
const result: WorkerResult = { requests, errors, firstError, latency, cpuSeconds: (used.user + used.system) / 1e6 };
console.log(JSON.stringify(result));
process.exit(0);

function errorMessage(body: Uint8Array): string {
  try {
    return String(decode("ErrResponse", body).message);
  } catch {
    return `${body.length} bytes`;
  }
}
