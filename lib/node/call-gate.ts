/**
 * The receiving end of node-to-node calls. Only a client certificate issued
 * by the cluster CA may call, every body must be sealed with the HSM-derived
 * key, and a call is taken once, inside the replay window: a node with
 * another HSM key can neither join, vote, replicate nor read, and a recorded
 * call cannot be played again.
 */
import * as v from "valibot";
import type { SoftHsm } from "../hsm/soft.ts";
import { Errors } from "../state/errors.ts";
import { CLUSTER_ID } from "./admin-key.ts";
import { clusterCa, issuedByCluster } from "./cluster-ca.ts";
import type { CallEnvelope, ReplyEnvelope } from "./peers.ts";
import { ReplayGuard } from "./replay.ts";
import { openPayload, sealPayload } from "./seal.ts";

export type { CallEnvelope };

/** How far a call's clock may be from ours (node clocks must agree this well), and how long its nonce is remembered. */
export const REPLAY_WINDOW_MS = 60_000;

const Envelope = v.object({
  nonce: v.pipe(v.string(), v.minLength(16), v.maxLength(64)),
  at: v.pipe(v.number(), v.integer()),
  cluster: v.pipe(v.string(), v.regex(CLUSTER_ID)),
  body: v.unknown(),
});

/** Who may call this node, and the seal of its calls and answers. */
export class CallGate {
  readonly #hsm: SoftHsm;
  readonly #replays = new ReplayGuard(REPLAY_WINDOW_MS);

  constructor(hsm: SoftHsm) {
    this.#hsm = hsm;
  }

  /** The call a node of this cluster sealed for `path`; throws "denied" for anyone else, and for a replay or a stale call. */
  open(path: string, certificate: Uint8Array | undefined, body: Uint8Array, now = Date.now()): CallEnvelope {
    if (!certificate || !issuedByCluster(clusterCa(this.#hsm), certificate)) throw Errors.accessDenied();
    let envelope: CallEnvelope;
    try {
      envelope = v.parse(Envelope, openPayload(this.#hsm, path, body));
    } catch {
      throw Errors.accessDenied();
    }
    const admission = this.#replays.admit(envelope.nonce, envelope.at, now);
    if (admission === "replayed") throw Errors.refused("refused: this call was already taken (a replay)");
    if (admission === "stale") {
      throw Errors.refused(`refused: the call's clock is more than ${REPLAY_WINDOW_MS / 1000} s from this node's (keep the nodes' clocks in sync)`);
    }
    return envelope;
  }

  /** Seals the answer to a call of `path`. */
  seal(path: string, reply: ReplyEnvelope): Uint8Array {
    return sealPayload(this.#hsm, `${path}#reply`, reply);
  }
}
