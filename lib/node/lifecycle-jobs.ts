/** The key lifecycle's due jobs: purges after a deletion date, and automatic rotations. */
import { randomBytes } from "../crypto/random.ts";
import { encodeBase64 } from "../encoding/base64.ts";
import type { Command } from "../state/commands.ts";
import { KeyRings } from "../state/key-rings.ts";
import { purgeDue, rotationDue } from "../state/lifecycle.ts";
import type { State } from "../state/state.ts";
import type { DueProvider } from "./due-jobs.ts";

/** Who made a version that automatic rotation added. */
export const AUTO_ROTATION = "kms:automatic-rotation";

/** Purges of keys whose deletion date has passed, and rotations that are due. */
export const lifecycleJobs: DueProvider = {
  name: "key lifecycle",
  due(state: State, now: number): Command[] {
    const out: Command[] = [];
    for (const [enclave, e] of state.enclaves) {
      // Only rings with a lifecycle can fall due: the index, not every key (a frozen copy has none).
      for (const [name, ring] of e.keys instanceof KeyRings ? e.keys.managed() : e.keys) {
        const lc = ring.lifecycle;
        if (!lc) continue;
        if (purgeDue(lc, now)) out.push({ type: "key.purge", enclave, name, at: now });
        else if (rotationDue(lc, now)) {
          out.push({ type: "key.rotate", enclave, name, material: encodeBase64(randomBytes(32)), due: true, at: now, by: AUTO_ROTATION });
        }
      }
    }
    return out;
  },
};
