import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import type { Message } from "../cluster/types.ts";
import { CLUSTER_ID } from "../node/admin-key.ts";
import { CredentialsSchema } from "../node/credentials.ts";
import { HostSchema } from "../node/membership.ts";
import { type ReplyEnvelope, RPC } from "../node/peers.ts";
import { MessageSchema } from "../node/seal.ts";
import { type Command, CommandSchema } from "../state/commands.ts";
import { log } from "../log/logger.ts";
import { Errors, KmsError } from "../state/errors.ts";
import { statusOf } from "../wire/errors.ts";
import type { Env } from "../net/env.ts";
import type { AppDeps } from "./deps.ts";
import { type ErrorLog, lastResort } from "../net/errors.ts";
import type { RawReply } from "../net/serve.ts";
import { jsonReply, toResponse } from "./native/reply.ts";
import type { NotingRoute } from "./request-note.ts";
import { serverStatus } from "./native/cluster.ts";

const Forward = v.union([
  v.object({ cmd: CommandSchema }),
  v.object({ addNode: HostSchema }),
  v.object({ removeNode: HostSchema }),
]);
const Join = v.object({
  cluster: v.pipe(v.string(), v.regex(CLUSTER_ID)),
  id: v.pipe(v.number(), v.integer(), v.minValue(1)),
  credentials: CredentialsSchema,
});
const Edit = v.object({ remove: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))) });

/** Largest node-to-node call: a snapshot carries the whole state. */
export const MAX_RPC_BODY = 256 << 20;

/**
 * Node-to-node RPC on the client port: the node's call gate (node/call-gate.ts)
 * admits only sealed calls from nodes of this cluster; the answers are sealed too.
 * A server serves the same calls on its raw route (rpcRawRoute); this is the app's.
 */
export function rpcRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const limit = bodyLimit({ maxSize: MAX_RPC_BODY, onError: () => toResponse(tooLarge()) });
  app.post("/v1/rpc/:op", limit, async (c) => {
    let body: Uint8Array;
    try {
      body = new Uint8Array(await c.req.arrayBuffer());
    } catch {
      return toResponse(jsonReply(500, Errors.internal().message));
    }
    return toResponse(await answerCall(deps, c.req.path, c.env.certificate, body));
  });
  return app;
}

/** POST /v1/rpc/<op>, nothing to decode (no %, no query): the raw route's share; the rest goes to the app. */
const RAW_PATH = /^\/v1\/rpc\/[a-z]+$/;

/**
 * The node-to-node calls as a raw route of the server (lib/net/serve.ts): no
 * web Request, hono context or Response per call, the sealed answer in one
 * write. A cluster's every write crosses it several times, so its per-call
 * cost is the replication's. The same answers as rpcRoutes (answerCall),
 * watched the same way once observedRoute wraps it (metrics; replication is
 * not audited: observe.ts).
 */
export function rpcRawRoute(deps: AppDeps, log: ErrorLog): NotingRoute {
  return {
    maxBody: MAX_RPC_BODY,
    match: (method, url) => (method === "POST" && RAW_PATH.test(url) ? url : undefined),
    begin: (path, req) => ({
      handle: async (read) => answerCall(deps, path, req.peer.certificate, await read()),
      tooLarge,
      failed: (err) => {
        const { status, message } = lastResort(err, `${req.method} ${req.path}`, log);
        return jsonReply(status, message);
      },
      end: (reply) => reply,
    }),
  };
}

function tooLarge(): RawReply {
  return jsonReply(413, "request body too large");
}

/**
 * One call to `path` with the caller's client `certificate` and sealed `body`:
 * the sealed answer (errors included) for a node of this cluster, a JSON
 * refusal for anyone else.
 */
async function answerCall(deps: AppDeps, path: string, certificate: Uint8Array | undefined, body: Uint8Array): Promise<RawReply> {
  const node = deps.node;
  try {
    const envelope = node.openCall(path, certificate, body);
    // From here on the caller is a node of this cluster: answer sealed, errors included.
    let reply: ReplyEnvelope;
    try {
      // A join comes from the cluster the node is about to enter; every other call must be from its own.
      if (path !== RPC.join && envelope.cluster !== node.cluster) throw Errors.conflict("this node belongs to another cluster");
      reply = { nonce: envelope.nonce, ok: (await dispatch(deps, path, envelope.body)) ?? {} };
    } catch (err) {
      const e = err instanceof KmsError ? err : Errors.internal();
      reply = { nonce: envelope.nonce, error: { status: statusOf(e), message: e.message, kind: e.kind } };
    }
    const sealed = node.sealReply(path, reply);
    return { status: 200, headers: { "content-type": "application/octet-stream", "content-length": String(sealed.length) }, body: sealed };
  } catch (err) {
    const e = err instanceof KmsError ? err : Errors.internal();
    return jsonReply(statusOf(e), e.message);
  }
}

async function dispatch(deps: AppDeps, path: string, body: unknown): Promise<unknown> {
  const node = deps.node;
  const parse = <S extends v.GenericSchema>(schema: S) => {
    const r = v.safeParse(schema, body);
    if (!r.success) throw Errors.badRequest(`invalid ${path} request`);
    return r.output as v.InferOutput<S>;
  };
  switch (path) {
    case RPC.raft: {
      const { from, messages, answer } = parse(v.object({ from: HostSchema, messages: v.array(MessageSchema), answer: v.optional(v.boolean()) }));
      // The caller asked for our messages to it in this reply (an older node did not: it gets them in requests of our own).
      const answers = await node.receive(from, messages as unknown as Message<Command>[], answer === true);
      return answer === true ? { messages: answers } : {};
    }
    case RPC.forward: {
      const req = parse(Forward);
      if ("cmd" in req) await node.write(req.cmd, true);
      else if ("addNode" in req) await node.addNode(req.addNode, true);
      else await node.removeNode(req.removeNode, true);
      return {};
    }
    case RPC.join: {
      const req = parse(Join);
      await node.acceptJoin(req.cluster, req.id, req.credentials);
      return {};
    }
    case RPC.status:
      return serverStatus(node);
    case RPC.ready: {
      const st = node.status();
      return { writable: st.role === "leader" && st.writable };
    }
    case RPC.progress: {
      // What a restarting peer compares its own log with (server/peer-check.ts).
      const st = node.status();
      return { term: st.term, commit: st.commit };
    }
    case RPC.serving:
      return { startedAt: node.info.startedAt, readable: node.readyForReads() };
    case RPC.restart: {
      // Asked by the node running a rolling restart (api/restart.ts): answer, then restart.
      const restart = deps.ops?.restart;
      if (!restart) throw Errors.switchedOff("this node cannot restart itself");
      log.info("restarting: a rolling restart of the cluster reached this node");
      setTimeout(restart, 50);
      return {};
    }
    case RPC.edit:
      await node.editNode("", parse(Edit).remove);
      return {};
    default:
      throw Errors.notFound("not found");
  }
}
