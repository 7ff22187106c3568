/**
 * One connection's caller, resolved once and reused while nothing is applied:
 * a client sends request after request as the same identity to the same
 * enclave, and the answer (its privilege, its policy, which records its
 * requests must wait for) can only change when an entry is applied. The memo
 * holds the state and applied index it was resolved at; any applied entry (a
 * revoked identity, an edited policy, a deleted enclave) makes it stale, so
 * the very next request resolves again.
 */
import { callerReads } from "../../node/pending.ts";
import type { KmsNode } from "../../node/node.ts";
import { type Caller, callerOf } from "../../state/policy.ts";
import type { State } from "../../state/state.ts";

/** Who the caller is and which records its resolution read, as of one applied state. */
export interface Resolution {
  /** Undefined: a stranger here. */
  readonly caller: Caller | undefined;
  /** The records the resolution depends on (callerReads): a request waits for pending changes to them. */
  readonly reads: readonly string[];
}

/** The last resolution of one connection (see the module comment). */
export class CallerMemo {
  #state: State | undefined;
  #applied = -1;
  #identity: string | undefined;
  #enclave = "";
  #last: Resolution | undefined;
  /** Resolutions computed (not reused): for tests. */
  resolved = 0;

  /** `identity`'s resolution in `enclave` on `node`'s state as it is now. */
  resolve(node: KmsNode, identity: string | undefined, enclave: string): Resolution {
    const state = node.state;
    if (this.#last && state === this.#state && state.applied === this.#applied && identity === this.#identity && enclave === this.#enclave) {
      return this.#last;
    }
    const admin = node.info.adminIdentity;
    this.#last = { caller: callerOf(state, admin, identity, enclave), reads: callerReads(state, admin, identity, enclave) };
    this.#state = state;
    this.#applied = state.applied;
    this.#identity = identity;
    this.#enclave = enclave;
    this.resolved++;
    return this.#last;
  }
}

const memos = new WeakMap<object, CallerMemo>();

/** The memo of a connection, named by an object that lives as long as it (serve.ts's Peer). */
export function memoOf(connection: object): CallerMemo {
  let memo = memos.get(connection);
  if (!memo) memos.set(connection, (memo = new CallerMemo()));
  return memo;
}
