/**
 * Outbound node-to-node calls over mutual TLS: both sides present
 * certificates issued by the cluster CA (derived from the cluster's
 * credentials) and accept no other, and every payload is sealed (wire.ts)
 * with a fresh nonce and the sender's clock, so only nodes holding the
 * cluster's credentials can take part and a recorded call cannot be replayed. Replication messages are batched per
 * peer, up to PIPELINE requests in flight each (so they may arrive out of
 * order, as the core allows), and dropped on failure (the core retries);
 * the peer answers them in its reply (its acknowledgements: no request of
 * their own), which goes to onAnswer. Calls (forward, join, status) wait
 * for a sealed answer.
 */
import { randomBytes } from "node:crypto";
import * as v from "valibot";
import { createTransport, type Transport } from "../net/transport.ts";
import type { Members, Message } from "../cluster/types.ts";
import { ERROR_KINDS, type ErrorKind, KmsError } from "../state/errors.ts";
import { kindOfStatus } from "../wire/errors.ts";
import { MessageSchema, openPayload, sealPayload } from "./seal.ts";
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
  /** Restart the called node (a rolling restart, one node at a time). */
  restart: "/v1/rpc/restart",
  /** Whether the called node serves reads, and since when it runs. */
  serving: "/v1/rpc/serving",
} as const;

const MAX_BATCH = 256;
/** A peer's answer to a batch of replication messages: its own messages to us (an older node answers `{}`). */
const Answer = v.object({ messages: v.pipe(v.array(MessageSchema), v.maxLength(4 * MAX_BATCH)) });
/**
 * Replication requests in flight to one peer. With one, every Ready's messages
 * waited for the previous request's answer (a round trip under load), and a
 * write waits for two hops; the core already pipelines appends (maxInflightMsgs).
 */
const PIPELINE = 4;

/** What a node presents and trusts when it calls others: its key and certificate, the CA it accepts, the RPC sealing key. */
export interface PeerCredentials {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  readonly rpc: Uint8Array;
}

/** Transports with one set of credentials: short deadlines for replication, long ones for calls. */
class Channel {
  readonly rpc: Uint8Array;
  readonly raft: Transport;
  readonly calls: Transport;
  constructor(creds: PeerCredentials, serverName: string) {
    const tls = { key: creds.key, cert: creds.cert, ca: creds.ca, serverName };
    this.rpc = creds.rpc;
    this.raft = createTransport({ ...tls, timeoutMs: 2_000 });
    this.calls = createTransport({ ...tls, timeoutMs: 30_000 });
  }
  close(): void {
    this.raft.close();
    this.calls.close();
  }
}

/** The node's outbound side of the node-to-node protocol. */
export class Peers<C> {
  #channel: Channel;
  readonly #serverName: string;
  readonly #queues = new Map<string, Message<C>[]>();
  #self = "";
  /** Requests in flight per peer address. */
  readonly #sending = new Map<string, number>();
  /** The cluster this node belongs to now (it changes when the node joins another). */
  cluster = "";
  /** Takes the messages a peer answered a replication request with (`addr`: the peer's). */
  onAnswer: (addr: string, messages: readonly Message<C>[]) => void = () => {};

  /** `creds`: this node's key and CA-issued certificate, the cluster CA's certificate (the only one trusted) and the RPC key. */
  constructor(creds: PeerCredentials, serverName: string) {
    this.#serverName = serverName;
    this.#channel = new Channel(creds, serverName);
  }

  /** Switches to other credentials (the node joined another cluster, or was restored from a backup). */
  use(creds: PeerCredentials): void {
    const old = this.#channel;
    this.#channel = new Channel(creds, this.#serverName);
    old.close();
  }

  /**
   * Called before replication messages leave (queued here, or carried in a
   * reply by Replication.receive): what they acknowledge (entries held) must
   * be published to serving threads first (lib/server/threads.ts).
   */
  beforeSend?: () => void;

  /** Queues replication messages for the peer at `addr`; `self` is the address it can answer to. */
  send(addr: string, self: string, messages: readonly Message<C>[]): void {
    this.beforeSend?.();
    this.#self = self;
    const queue = this.#queues.get(addr) ?? [];
    queue.push(...messages);
    // A peer that cannot keep up loses the oldest messages; the core resends what matters.
    if (queue.length > 4 * MAX_BATCH) queue.splice(0, queue.length - 4 * MAX_BATCH);
    this.#queues.set(addr, queue);
    if ((this.#sending.get(addr) ?? 0) < PIPELINE) void this.#flush(addr);
  }

  /** Sends the peer's queued messages, a batch per request, until none is left. */
  async #flush(addr: string): Promise<void> {
    this.#sending.set(addr, (this.#sending.get(addr) ?? 0) + 1);
    try {
      for (;;) {
        const queue = this.#queues.get(addr);
        if (!queue?.length) break;
        const batch = queue.splice(0, MAX_BATCH);
        try {
          const channel = this.#channel;
          // `answer`: the peer puts its messages to us in the reply (a node that does not know it ignores it).
          const sealed = envelope(this.cluster, { from: this.#self, messages: batch, answer: true });
          const body = sealPayload(channel.rpc, RPC.raft, sealed);
          // A snapshot carries the whole state: give it the long deadline.
          const transport = batch.some((m) => m.type === "snapshot") ? channel.calls : channel.raft;
          const reply = await transport.request(`https://${addr}`, "POST", RPC.raft, body, { "content-type": "application/octet-stream" });
          const answer = reply.status === 200 ? answerOf(channel.rpc, sealed.nonce, reply.body) : [];
          if (answer.length) this.onAnswer(addr, answer as unknown as Message<C>[]);
        } catch {
          // unreachable: the messages are lost, as on any network
        }
      }
    } finally {
      const left = (this.#sending.get(addr) ?? 1) - 1;
      if (left > 0) this.#sending.set(addr, left);
      else this.#sending.delete(addr);
    }
  }

  /**
   * Calls `path` on the node at `addr` and returns its result. A sealed error
   * becomes a PeerError with `sealed`; an unsealed error status (e.g. the 403
   * of a node with another HSM key) a PeerError without; a reply that is not
   * sealed for this request throws.
   */
  call(addr: string, path: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    return this.#callOn(this.#channel, addr, path, body, timeoutMs);
  }

  /**
   * Calls `path` with other credentials, asking for `serverName`: how a leader
   * calls a fresh node to join, with the join credentials of the fresh node's
   * HSM key (docs/recovery.md).
   */
  async callWith(creds: PeerCredentials, serverName: string, addr: string, path: string, body: unknown): Promise<unknown> {
    const channel = new Channel(creds, serverName);
    try {
      return await this.#callOn(channel, addr, path, body);
    } finally {
      channel.close();
    }
  }

  async #callOn(channel: Channel, addr: string, path: string, body: unknown, timeoutMs?: number): Promise<unknown> {
    const transport = timeoutMs && timeoutMs <= 2_000 ? channel.raft : channel.calls;
    const sealed = envelope(this.cluster, body);
    const nonce = sealed.nonce;
    const reply = await transport.request(`https://${addr}`, "POST", path, sealPayload(channel.rpc, path, sealed), {
      "content-type": "application/octet-stream",
    });
    if (reply.status !== 200) {
      let message = `HTTP ${reply.status}`;
      try {
        message = JSON.parse(new TextDecoder().decode(reply.body)).message ?? message;
      } catch { /* not JSON */ }
      throw new PeerError(reply.status, message, false);
    }
    const opened = openPayload(channel.rpc, `${path}#reply`, reply.body) as ReplyEnvelope;
    if (opened?.nonce !== nonce) throw new Error("the reply does not answer this request");
    if (opened.error) throw new PeerError(opened.error.status, opened.error.message, true, opened.error.kind);
    return opened.ok;
  }

  /** Closes idle connections. */
  close(): void {
    this.#channel.close();
  }
}

/** The messages a sealed reply to the replication request `nonce` carries; none if it carries none or is not such a reply. */
export function answerOf(rpc: Uint8Array, nonce: string, body: Uint8Array): v.InferOutput<typeof Answer>["messages"] {
  try {
    const opened = openPayload(rpc, `${RPC.raft}#reply`, body) as ReplyEnvelope;
    if (opened?.nonce !== nonce) return [];
    const r = v.safeParse(Answer, opened.ok);
    return r.success ? r.output.messages : [];
  } catch {
    return []; // not sealed with our key: nobody's word
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
