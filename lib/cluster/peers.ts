/**
 * Outbound node-to-node calls over mutual TLS: the client certificate is the
 * HSM-derived node identity, and every payload is sealed (wire.ts), so only
 * nodes with the cluster's HSM key can take part. Replication messages are
 * batched per peer, one request in flight each, and dropped on failure (the
 * core retries); calls (forward, join, status) wait for a sealed answer.
 */
import { randomBytes } from "node:crypto";
import type { SoftHsm } from "../hsm/soft.ts";
import { createTransport, type Transport } from "../client/transport.ts";
import type { Message } from "./types.ts";
import { openPayload, sealPayload } from "./wire.ts";

/** A peer answered a call with an error: `sealed` when the answer provably came from a node of this cluster. */
export class PeerError extends Error {
  readonly status: number;
  readonly sealed: boolean;
  constructor(status: number, message: string, sealed: boolean) {
    super(message);
    this.status = status;
    this.sealed = sealed;
  }
}

/**
 * A call's sealed envelope: the nonce ties the reply to this very request, so
 * old replies cannot be replayed; `cluster` keeps two clusters that share an
 * HSM key from acting on each other's calls.
 */
export interface CallEnvelope {
  readonly nonce: string;
  readonly cluster: string;
  readonly body: unknown;
}

/** A sealed reply: the request's nonce and either the result or an error. */
export interface ReplyEnvelope {
  readonly nonce: string;
  readonly ok?: unknown;
  readonly error?: { readonly status: number; readonly message: string };
}

/** RPC paths between nodes. */
export const RPC = {
  raft: "/v1/rpc/raft",
  forward: "/v1/rpc/forward",
  join: "/v1/rpc/join",
  status: "/v1/rpc/status",
  edit: "/v1/rpc/edit",
  ready: "/v1/rpc/ready",
  progress: "/v1/rpc/progress",
} as const;

const MAX_BATCH = 256;

/** The node's outbound side of the node-to-node protocol. */
export class Peers<C> {
  readonly #hsm: SoftHsm;
  readonly #raft: Transport;
  readonly #calls: Transport;
  readonly #queues = new Map<string, Message<C>[]>();
  #self = "";
  readonly #sending = new Set<string>();
  /** The cluster this node belongs to now (it changes when the node joins another). */
  cluster = "";

  constructor(hsm: SoftHsm, credentials: { key: string; cert: string }) {
    this.#hsm = hsm;
    // Peers' server certificates are self-signed per node; trust comes from the sealed payloads.
    this.#raft = createTransport({ ...credentials, insecure: true, timeoutMs: 2_000 });
    this.#calls = createTransport({ ...credentials, insecure: true, timeoutMs: 30_000 });
  }

  /** Queues replication messages for the peer at `addr`; `self` is the address it can answer to. */
  send(addr: string, self: string, messages: readonly Message<C>[]): void {
    this.#self = self;
    const queue = this.#queues.get(addr) ?? [];
    queue.push(...messages);
    // A peer that cannot keep up loses the oldest messages; the core resends what matters.
    if (queue.length > 4 * MAX_BATCH) queue.splice(0, queue.length - 4 * MAX_BATCH);
    this.#queues.set(addr, queue);
    if (!this.#sending.has(addr)) void this.#flush(addr);
  }

  async #flush(addr: string): Promise<void> {
    this.#sending.add(addr);
    try {
      for (;;) {
        const queue = this.#queues.get(addr);
        if (!queue?.length) break;
        const batch = queue.splice(0, MAX_BATCH);
        try {
          const envelope: CallEnvelope = { nonce: "", cluster: this.cluster, body: { from: this.#self, messages: batch } };
          const body = sealPayload(this.#hsm, RPC.raft, envelope);
          // A snapshot carries the whole state: give it the long deadline.
          const transport = batch.some((m) => m.type === "snapshot") ? this.#calls : this.#raft;
          await transport.request(`https://${addr}`, "POST", RPC.raft, body, { "content-type": "application/octet-stream" });
        } catch {
          // unreachable: the messages are lost, as on any network
        }
      }
    } finally {
      this.#sending.delete(addr);
    }
  }

  /**
   * Calls `path` on the node at `addr` and returns its result. A sealed error
   * becomes a PeerError with `sealed`; an unsealed error status (e.g. the 403
   * of a node with another HSM key) a PeerError without; a reply that is not
   * sealed for this request throws.
   */
  async call(addr: string, path: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    const transport = timeoutMs && timeoutMs <= 2_000 ? this.#raft : this.#calls;
    const nonce = randomBytes(16).toString("base64");
    const envelope: CallEnvelope = { nonce, cluster: this.cluster, body };
    const reply = await transport.request(`https://${addr}`, "POST", path, sealPayload(this.#hsm, path, envelope), {
      "content-type": "application/octet-stream",
    });
    if (reply.status !== 200) {
      let message = `HTTP ${reply.status}`;
      try {
        message = JSON.parse(new TextDecoder().decode(reply.body)).message ?? message;
      } catch { /* not JSON */ }
      throw new PeerError(reply.status, message, false);
    }
    const opened = openPayload(this.#hsm, `${path}#reply`, reply.body) as ReplyEnvelope;
    if (opened?.nonce !== nonce) throw new Error("the reply does not answer this request");
    if (opened.error) throw new PeerError(opened.error.status, opened.error.message, true);
    return opened.ok;
  }

  /** Closes idle connections. */
  close(): void {
    this.#raft.close();
    this.#calls.close();
  }
}
