/**
 * A rolling restart, run by the node an operator asked: every other member
 * restarts in turn (followers first, the leader last, so there is one
 * election at most), and the next goes only once the previous one serves
 * reads again under its new process. Reads never stop: at most one node is
 * down at any time, and the restart starts only when every node serves.
 * The asking node restarts itself after its reply (api/debug.ts).
 */
import { RPC } from "./peers.ts";
import type { Replication } from "./replication.ts";
import { Errors } from "../state/errors.ts";

/** How long one node may take to come back. */
const BACK_WITHIN_MS = 60_000;

/** What a node says when asked whether it serves. */
interface Serving {
  readonly startedAt: number;
  readonly readable: boolean;
}

/** Restarts every other member, one at a time; returns what each took. */
export async function rollingRestart(r: Replication): Promise<Array<{ id: number; host: string; seconds: number }>> {
  const { driver, peers } = r;
  const st = driver.status();
  const others = st.members.filter((m) => m.id !== st.id).sort((a, b) => Number(a.id === st.leader) - Number(b.id === st.leader) || a.id - b.id);
  const ask = (addr: string) => peers.call(addr, RPC.serving, {}, 1_500) as Promise<Serving>;
  const before = new Map<number, Serving>();
  for (const m of others) {
    const s = await ask(m.addr).catch(() => undefined);
    if (!s?.readable) throw Errors.unavailable(`node ${m.id} (${m.addr}) is not serving: bring it back before a rolling restart (or restart nodes one by one with --self)`);
    before.set(m.id, s);
  }
  const done: Array<{ id: number; host: string; seconds: number }> = [];
  for (const m of others) {
    const started = Date.now();
    await peers.call(m.addr, RPC.restart, {}, 2_000);
    for (;;) {
      const s = await ask(m.addr).catch(() => undefined);
      if (s && s.startedAt !== before.get(m.id)!.startedAt && s.readable) break;
      if (Date.now() - started > BACK_WITHIN_MS) {
        throw Errors.unavailable(`node ${m.id} (${m.addr}) did not serve again within ${BACK_WITHIN_MS / 1000} s of its restart: the rolling restart stopped there`);
      }
      await driver.changed(200); // a bounded wait between polls (or sooner, on any cluster change)
    }
    done.push({ id: m.id, host: m.addr, seconds: Math.round((Date.now() - started) / 100) / 10 });
  }
  return done;
}
