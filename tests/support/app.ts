/**
 * Test fixture: a real KmsNode over a real encrypted libSQL store in a temp
 * directory, and helpers to talk the native protocol to its hono app in
 * process. Message names per command id come from the protocol reference, not
 * from the code under test, so a wrong mapping there shows up as a failure.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SoftHsm } from "../../lib/hsm/soft.ts";
import { KmsNode } from "../../lib/node/node.ts";
import { stateOf } from "../../lib/state/records.ts";
import { openStore, type Store } from "../../lib/store/store.ts";
import { stopTestNode, testNode } from "./node.ts";
import { createApp } from "../../lib/api/app.ts";
import { decode, encode } from "../../lib/wire/proto.ts";

export const ADMIN = "h1:admin";
/** A well-formed identity that is not the admin and is stored nowhere. */
export const STRANGER = "h1:" + "A".repeat(43);

/** Request and reply message of each command id (reply undefined: writes reply with an empty frame). */
export const MESSAGES: Readonly<Record<number, readonly [string, string | undefined]>> = {
  3: ["ClusterStatusRequest", "ClusterStatusResponse"],
  101: ["CreateEnclaveRequest", undefined],
  102: ["DeleteEnclaveRequest", undefined],
  103: ["EnclaveStatusRequest", "EnclaveStatusResponse"],
  104: ["ListRequest", "ListEnclavesResponse"],
  201: ["CreateKeyRequest", undefined],
  202: ["DeleteKeyRequest", undefined],
  203: ["ImportKeyRequest", undefined],
  204: ["KeyStatusRequest", "KeyStatusResponse"],
  205: ["EncryptRequest", "EncryptResponse"],
  206: ["DecryptRequest", "DecryptResponse"],
  207: ["GenerateKeyRequest", "GenerateKeyResponse"],
  208: ["ListRequest", "ListKeysResponse"],
  210: ["MACRequest", "MACResponse"],
  1201: ["DeriveKeyRequest", "DeriveKeyResponse"],
};

export interface RawFrame {
  readonly id: number;
  readonly payload: Uint8Array;
}

/** Frames a request, independently of lib/wire/frames.ts. */
export function frames(list: ReadonlyArray<RawFrame>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(list.reduce((n, f) => n + 6 + f.payload.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of list) {
    view.setUint16(at, f.id);
    view.setUint32(at + 2, f.payload.length);
    out.set(f.payload, at + 6);
    at += 6 + f.payload.length;
  }
  return out;
}

/** Splits a reply body into frames, independently of lib/wire/frames.ts; asserts it is well formed. */
export function unframe(body: Uint8Array): RawFrame[] {
  const out: RawFrame[] = [];
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  while (at < body.length) {
    assert.ok(body.length - at >= 6, "reply has a truncated frame header");
    const id = view.getUint16(at);
    const length = view.getUint32(at + 2);
    assert.ok(at + 6 + length <= body.length, "reply frame is longer than the body");
    out.push({ id, payload: body.slice(at + 6, at + 6 + length) });
    at += 6 + length;
  }
  return out;
}

/** One request frame: command id and its request message. */
export function frame(id: number, message: Record<string, unknown>): RawFrame {
  const names = MESSAGES[id];
  if (!names) throw new Error(`test-app: no message for command ${id}`);
  return { id, payload: encode(names[0], message) };
}

export interface RequestOptions {
  /** The caller's identity; null sends none. Default: the admin. */
  readonly identity?: string | null;
  readonly accept?: string;
  readonly headers?: Record<string, string>;
}

/** A deep copy of the node's state and of the store's records, for before/after comparisons. */
export interface Snapshot {
  readonly state: unknown;
  readonly records: Map<string, Uint8Array>;
}

export class TestKms {
  readonly app: ReturnType<typeof createApp>;

  /** fatal: every error the node passed to onFatal. */
  private constructor(readonly dir: string, readonly store: Store, readonly node: KmsNode, readonly fatal: unknown[]) {
    this.app = createApp({ node });
  }

  /** A fresh node with an empty data directory. */
  static async open(): Promise<TestKms> {
    const dir = await mkdtemp(join(tmpdir(), "kms-api-test-"));
    try {
      const store = await openStore(join(dir, "data"), SoftHsm.parse(SoftHsm.generate()));
      const fatal: unknown[] = [];
      const node = await testNode(store, { adminIdentity: ADMIN, onFatal: (err) => fatal.push(err) });
      return new TestKms(dir, store, node, fatal);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    try {
      await stopTestNode(this.node);
      await this.store.close();
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /** POSTs a raw body to a path, as the TLS adapter would with the given identity. */
  post(path: string, body: Uint8Array<ArrayBuffer>, opts: RequestOptions = {}): Promise<Response> {
    const identity = opts.identity === undefined ? ADMIN : opts.identity ?? undefined;
    const headers: Record<string, string> = { "content-type": "application/octet-stream", accept: opts.accept ?? "application/*", ...opts.headers };
    return Promise.resolve(this.app.request(path, { method: "POST", body, headers }, { identity }));
  }

  /** Sends frames to an enclave ("" = /v1/kms). */
  send(enclave: string, list: ReadonlyArray<RawFrame>, opts: RequestOptions = {}): Promise<Response> {
    return this.post(enclave === "" ? "/v1/kms" : `/v1/kms/${enclave}`, frames(list), opts);
  }

  /** Runs a batch that must succeed; returns the decoded reply of each frame, checking ids and order. */
  async batch(enclave: string, list: ReadonlyArray<RawFrame>, opts: RequestOptions = {}): Promise<Array<Record<string, unknown>>> {
    const res = await this.send(enclave, list, opts);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) {
      const detail = res.headers.get("content-type")?.includes("octet-stream") ? decode("ErrResponse", body).message : new TextDecoder().decode(body);
      assert.fail(`expected 200, got ${res.status}: ${detail}`);
    }
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("content-length"), String(body.length), "replies must carry an exact Content-Length");
    const replies = unframe(body);
    assert.deepEqual(replies.map((r) => r.id), list.map((f) => f.id), "one reply frame per request frame, same ids, same order");
    return replies.map((r) => {
      const name = MESSAGES[r.id]?.[1];
      if (!name) {
        assert.equal(r.payload.length, 0, `write command ${r.id} replies with an empty frame`);
        return {};
      }
      return decode(name, r.payload);
    });
  }

  /** Runs one command that must succeed; returns its decoded reply ({} for writes). */
  async call(enclave: string, id: number, message: Record<string, unknown>, opts: RequestOptions = {}): Promise<Record<string, unknown>> {
    return (await this.batch(enclave, [frame(id, message)], opts))[0];
  }

  /**
   * A deep copy of the state and its durable records. The replication log and
   * its position are left out: a failed write is still a log entry (it fails
   * identically on every node), but it changes no state.
   */
  async snapshot(): Promise<Snapshot> {
    const records = new Map([...await this.store.load()].filter(([k]) => !k.startsWith("r/") && k !== "m/applied"));
    return { state: structuredClone({ commit: this.node.state.commit, enclaves: this.node.state.enclaves }), records };
  }

  /**
   * Sends a request that must fail with exactly `status` and `message` (protobuf
   * ErrResponse) and must change nothing, in memory or on disk.
   */
  async expectError(status: number, message: string | RegExp, send: () => Promise<Response>): Promise<void> {
    const before = await this.snapshot();
    const res = await send();
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(res.status, status, `status (body: ${new TextDecoder().decode(body)})`);
    assert.equal(res.headers.get("content-type"), "application/octet-stream");
    assert.equal(res.headers.get("content-length"), String(body.length), "error replies carry an exact Content-Length too");
    const got = decode("ErrResponse", body).message as string;
    if (typeof message === "string") assert.equal(got, message);
    else assert.match(got, message);
    assert.deepEqual(await this.snapshot(), before, "a failed request changed the state or the store");
  }

  /** expectError for one command. */
  fail(status: number, message: string | RegExp, enclave: string, id: number, msg: Record<string, unknown>, opts: RequestOptions = {}): Promise<void> {
    return this.expectError(status, message, () => this.send(enclave, [frame(id, msg)], opts));
  }

  /** Asserts the durable records rebuild exactly the state the node serves. */
  async assertDurable(): Promise<void> {
    assert.deepEqual(stateOf(await this.store.load()), this.node.state);
  }
}

/** Runs fn with a fresh TestKms, always cleaned up; fails if the node reported a fatal error. */
export async function withKms(fn: (kms: TestKms) => Promise<void>): Promise<void> {
  const kms = await TestKms.open();
  try {
    await fn(kms);
    assert.deepEqual(kms.fatal, [], "onFatal must not be called");
  } finally {
    await kms.close();
  }
}
