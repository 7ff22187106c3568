/** The HSM key a node runs with, checked against the cluster's configured HSM keys at start. */
import { hsmKeyEntry } from "../hsm/keys.ts";
import { HsmMismatchError, type SoftHsm } from "../hsm/soft.ts";
import { recordOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import type { Store } from "../store/store.ts";

/**
 * Makes sure the HSM key the node runs with is one of the cluster's configured
 * keys. A directory made before several HSM keys existed has none configured:
 * the key it runs with becomes the one (the same on every node of such a
 * cluster, since they all had that key). A key removed with 'kms rm-hsm' is
 * refused, though an older root.seal may still open with it.
 */
export async function configureHsmKey(dir: string, state: State, store: Store, hsm: SoftHsm, at: number): Promise<void> {
  if (state.hsmKeys.size === 0) {
    const entry = hsmKeyEntry(hsm, at, "");
    state.hsmKeys.set(entry.fingerprint, entry);
    await store.write([recordOf({ kind: "hsm", enclave: "", name: entry.fingerprint, value: entry })]);
  }
  if (!state.hsmKeys.has(hsm.fingerprint)) {
    throw new HsmMismatchError(
      `the HSM key ${hsm.fingerprint} was removed from this cluster's HSM keys ('kms rm-hsm'): ` +
        `start ${dir} with one of its configured keys (${[...state.hsmKeys.keys()].join(", ")})`,
    );
  }
}

