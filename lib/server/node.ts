import { install, prepare } from "../state/apply.ts";
import type { Command } from "../state/commands.ts";
import { recordsOf } from "../state/records.ts";
import type { State } from "../state/state.ts";
import type { Store } from "../store/store.ts";

/** What a node knows about itself, for status replies. */
export interface NodeInfo {
  readonly version: string;
  readonly host: string;
  readonly startedAt: number;
  readonly adminIdentity: string;
}

/**
 * A running node: the in-memory state that serves every read, and the one
 * path by which writes become durable before they become visible.
 */
export class KmsNode {
  readonly state: State;
  /** Replaced once the listener is bound (the port may be chosen by the OS). */
  info: NodeInfo;
  readonly #store: Store;
  readonly #onFatal: (err: unknown) => void;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(state: State, store: Store, info: NodeInfo, onFatal: (err: unknown) => void) {
    this.state = state;
    this.#store = store;
    this.info = info;
    this.#onFatal = onFatal;
  }

  /**
   * Applies a command: validated against the current state, written durably,
   * then made visible. Writes run one at a time so each sees the last.
   */
  write(cmd: Command): Promise<void> {
    const run = this.#writes.then(() => this.#apply(cmd));
    this.#writes = run.catch(() => {});
    return run;
  }

  async #apply(cmd: Command): Promise<void> {
    const effects = prepare(this.state, cmd); // throws a KmsError, changing nothing
    try {
      await this.#store.write(recordsOf(effects, this.state.commit + 1));
    } catch (err) {
      // Memory and disk may now disagree: stop rather than serve either.
      this.#onFatal(err);
      throw err;
    }
    install(this.state, effects);
  }
}
