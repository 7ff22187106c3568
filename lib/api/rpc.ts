import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { type ReplyEnvelope, RPC } from "../cluster/peers.ts";
import { ReplayGuard } from "../cluster/replay.ts";
import { MessageSchema, openPayload, sealPayload } from "../cluster/wire.ts";
import { clusterCa, issuedByCluster } from "../server/tls.ts";
import type { Message } from "../cluster/types.ts";
import { addNode, acceptJoin, editNode, HostSchema, removeNode } from "../server/membership.ts";
import { type Command, CommandSchema } from "../state/commands.ts";
import { log } from "../log/logger.ts";
import { Errors, KmsError } from "../state/errors.ts";
import type { AppDeps, Env } from "./env.ts";
import { serverStatus } from "./native/cluster.ts";

const Forward = v.union([
  v.object({ cmd: CommandSchema }),
  v.object({ addNode: HostSchema }),
  v.object({ removeNode: HostSchema }),
]);
const Join = v.object({ cluster: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/)), id: v.pipe(v.number(), v.integer(), v.minValue(1)) });
const Envelope = v.object({
  nonce: v.pipe(v.string(), v.minLength(16), v.maxLength(64)),
  at: v.pipe(v.number(), v.integer()),
  cluster: v.pipe(v.string(), v.regex(/^[0-9a-f]{32}$/)),
  body: v.unknown(),
});
/** How far a call's clock may be from ours (node clocks must agree this well), and how long its nonce is remembered. */
export const REPLAY_WINDOW_MS = 60_000;
const Edit = v.object({ remove: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))) });

/**
 * Node-to-node RPC on the client port. Only a client certificate issued by
 * the cluster CA may call it, every body must be sealed with the HSM-derived
 * key, and a call is taken once, inside the replay window: a node with
 * another HSM key can neither join, vote, replicate nor read, and a recorded
 * call cannot be played again.
 */
export function rpcRoutes(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();
  const replays = new ReplayGuard(REPLAY_WINDOW_MS);
  const limit = bodyLimit({ maxSize: 256 << 20, onError: (c) => c.json({ message: "request body too large" }, 413) });
  app.post("/v1/rpc/:op", limit, async (c) => {
    const node = deps.node;
    const path = c.req.path;
    try {
      const parts = node.parts();
      if (!c.env.certificate || !issuedByCluster(clusterCa(parts.hsm), c.env.certificate)) throw Errors.accessDenied();
      let envelope: v.InferOutput<typeof Envelope>;
      try {
        envelope = v.parse(Envelope, openPayload(parts.hsm, path, new Uint8Array(await c.req.arrayBuffer())));
      } catch {
        throw Errors.accessDenied();
      }
      const admission = replays.admit(envelope.nonce, envelope.at, Date.now());
      if (admission === "replayed") throw new KmsError(403, "refused: this call was already taken (a replay)");
      if (admission === "stale") {
        throw new KmsError(403, `refused: the call's clock is more than ${REPLAY_WINDOW_MS / 1000} s from this node's (keep the nodes' clocks in sync)`);
      }
      // From here on the caller is a node of this cluster: answer sealed, errors included.
      let reply: ReplyEnvelope;
      try {
        // A join comes from the cluster the node is about to enter; every other call must be from its own.
        if (path !== RPC.join && envelope.cluster !== parts.membership.cluster) {
          throw new KmsError(409, "this node belongs to another cluster");
        }
        reply = { nonce: envelope.nonce, ok: (await dispatch(deps, path, envelope.body)) ?? {} };
      } catch (err) {
        const e = err instanceof KmsError ? err : new KmsError(500, "internal server error");
        reply = { nonce: envelope.nonce, error: { status: e.status, message: e.message } };
      }
      const sealed = sealPayload(parts.hsm, `${path}#reply`, reply) as Uint8Array<ArrayBuffer>;
      return c.body(sealed, 200, { "content-type": "application/octet-stream" });
    } catch (err) {
      const e = err instanceof KmsError ? err : new KmsError(500, "internal server error");
      return c.json({ message: e.message }, e.status as 400);
    }
  });
  return app;
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
      const { from, messages } = parse(v.object({ from: HostSchema, messages: v.array(MessageSchema) }));
      const { driver, book } = node.parts();
      // A joining node knows no members yet: it answers the leader at the address the leader gave.
      if (messages.length) book.learn(messages[0].from, from);
      for (const m of messages) driver.step(m as unknown as Message<Command>);
      return {};
    }
    case RPC.forward: {
      const req = parse(Forward);
      if ("cmd" in req) await node.write(req.cmd, true);
      else if ("addNode" in req) await addNode(node, req.addNode, true);
      else await removeNode(node, req.removeNode, true);
      return {};
    }
    case RPC.join: {
      const req = parse(Join);
      await acceptJoin(node, req.cluster, req.id);
      return {};
    }
    case RPC.status:
      return serverStatus(node);
    case RPC.ready: {
      const st = node.parts().driver.status();
      return { writable: st.role === "leader" && st.writable };
    }
    case RPC.progress: {
      // What a restarting peer compares its own log with (server/peer-check.ts).
      const st = node.parts().driver.status();
      return { term: st.term, commit: st.commit };
    }
    case RPC.serving:
      return { startedAt: node.info.startedAt, readable: node.readyForReads() };
    case RPC.restart: {
      // Asked by the node running a rolling restart (api/restart.ts): answer, then restart.
      const restart = deps.ops?.restart;
      if (!restart) throw Errors.notSupported("this node cannot restart itself");
      log.info("restarting: a rolling restart of the cluster reached this node");
      setTimeout(restart, 50);
      return {};
    }
    case RPC.edit:
      await editNode(node, "", parse(Edit).remove);
      return {};
    default:
      throw new KmsError(404, "not found");
  }
}
