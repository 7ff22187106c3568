/**
 * Outbound node-to-node calls over mutual TLS: both sides present
 * certificates issued by the cluster CA (derived from the HSM key) and accept
 * no other, and every payload is sealed (wire.ts) with a fresh nonce and the
 * sender's clock, so only nodes with the cluster's HSM key can take part and
 * a recorded call cannot be replayed. Replication messages are batched per
 * peer, one request in flight each, and dropped on failure (the core
 * retries); calls (forward, join, status) wait for a sealed answer.
 */
import { randomBytes } from "node:crypto";
import type { SoftHsm } from "../hsm/soft.ts";
import { createTransport, type Transport } from "../net/transport.ts";
import type { Members, Message } from "../cluster/types.ts";
import { ERROR_KINDS, type ErrorKind, KmsError } from "../state/errors.ts";
import { kindOfStatus } from "../wire/errors.ts";
import { openPayload, sealPayload } from "./seal.ts";
import { encodeBase64 } from "../encoding/base64.ts";

/** A peer answered a call with an error: `sealed` when the answer provably came from a node of this cluster. */
export class PeerError extends Error {
  /** The HTTP status of the answer. */
  readonly status: number;
  readonly sealed: boolean;
  /** What went wrong: the peer's word when it said (sealed answers do), else what the status stands for. */
  readonly kind: ErrorKind;
  constructor(status: number, message: string, sealed: boolean, kind?: ErrorKind) {
    super(message);
    this.status = status;
    this.sealed = sealed;
    this.kind = kind && ERROR_KINDS.includes(kind) ? kind : kindOfStatus(status);
  }

  /** The peer's error as this node's own. */
  error(): KmsError {
    return new KmsError(this.kind, this.message);
  }
}

/**
 * A call's sealed envelope: the nonce ties the reply to this very request and,
 * with `at` (the sender's clock, ms), lets the receiver refuse a replayed
 * call; `cluster` keeps two clusters that share an HSM key from acting on
 * each other's calls.
 */
export interface CallEnvelope {
  readonly nonce: string;
  readonly at: number;
  readonly cluster: string;
  readonly body: unknown;
}

/** A fresh envelope for `body` from a node of `cluster`. */
export function envelope(cluster: string, body: unknown): CallEnvelope {
  return { nonce: encodeBase64(randomBytes(16)), at: Date.now(), cluster, body };
}

/** A sealed reply: the request's nonce and either the result or an error. */
export interface ReplyEnvelope {
  readonly nonce: string;
  readonly ok?: unknown;
  /** `kind` is newer than `status`: a node reads it when there, else the status. */
  readonly error?: { readonly status: number; readonly message: string; readonly kind?: ErrorKind };
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

  /** `credentials`: this node's key and CA-issued certificate; `ca`: the cluster CA's certificate, the only one trusted. */
  constructor(hsm: SoftHsm, credentials: { key: string; cert: string }, ca: string, serverName: string) {
    this.#hsm = hsm;
    this.#raft = createTransport({ ...credentials, ca, serverName, timeoutMs: 2_000 });
    this.#calls = createTransport({ ...credentials, ca, serverName, timeoutMs: 30_000 });
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
          const body = sealPayload(this.#hsm, RPC.raft, envelope(this.cluster, { from: this.#self, messages: batch }));
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
    const sealed = envelope(this.cluster, body);
    const nonce = sealed.nonce;
    const reply = await transport.request(`https://${addr}`, "POST", path, sealPayload(this.#hsm, path, sealed), {
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
    if (opened.error) throw new PeerError(opened.error.status, opened.error.message, true, opened.error.kind);
    return opened.ok;
  }

  /** Closes idle connections. */
  close(): void {
    this.#raft.close();
    this.#calls.close();
  }
}

/** A member's answer to a call, or undefined when it did not answer within the deadline. */
export interface MemberAnswer {
  readonly id: number;
  readonly addr: string;
  readonly reply: unknown;
}

/** Calls `path` on every member but `self` in parallel; members that fail or take longer than `timeoutMs` answer undefined. */
export function askMembers<C>(peers: Peers<C>, members: Members, self: number, path: string, timeoutMs: number): Promise<MemberAnswer[]> {
  return Promise.all(members.filter((m) => m.id !== self).map(async (m) => {
    try {
      return { id: m.id, addr: m.addr, reply: await peers.call(m.addr, path, {}, timeoutMs) };
    } catch {
      return { id: m.id, addr: m.addr, reply: undefined }; // down, starting, or not of this cluster
    }
  }));
}
