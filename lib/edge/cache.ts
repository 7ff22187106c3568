/**
 * The edge server's key cache, with KES's semantics:
 * - `any`: an entry is dropped this long after it was fetched;
 * - `unused`: an entry is dropped when it was not used for this long;
 * - `offline`: while the store is unreachable, every cached entry keeps
 *   serving for this long (counted from when the store became unreachable),
 *   whatever `any` and `unused` say. 0 disables each.
 * Concurrent misses for one key fetch it once. A background probe calls the
 * store's status at a fixed interval and tracks reachability and latency; a
 * store call that gets no answer marks the store unreachable at once.
 */
import { type KeyStore, KeyStoreError, type MasterKey } from "./keystore.ts";

export interface CacheExpiry {
  readonly anyMs: number;
  readonly unusedMs: number;
  readonly offlineMs: number;
}

interface Entry {
  readonly key: MasterKey;
  readonly loadedAt: number;
  usedAt: number;
}

export class KeyCache {
  readonly #store: KeyStore;
  #expiry: CacheExpiry;
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<MasterKey>>();
  #online = true;
  #offlineSince = 0;
  #latencyMs = 0;
  #timer?: ReturnType<typeof setInterval>;
  #probing?: Promise<void>;
  /** Store fetches so far (misses that reached the store), for tests and metrics. */
  fetches = 0;
  /** Called when reachability changes. */
  onChange?: (online: boolean, why: string) => void;

  readonly #now: () => number;

  /** `now` is the clock expiry is judged by (tests pass their own). */
  constructor(store: KeyStore, expiry: CacheExpiry, now: () => number = Date.now) {
    this.#store = store;
    this.#expiry = expiry;
    this.#now = now;
  }

  get online(): boolean {
    return this.#online;
  }

  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** Changes the expiry (config reload); entries are re-judged on next use. */
  setExpiry(expiry: CacheExpiry): void {
    this.#expiry = expiry;
  }

  /** Starts the background probe (and probes once now). */
  startProbe(intervalMs: number): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => void this.probe(), intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
    return this.probe();
  }

  /** Checks the store once; concurrent calls share one check. */
  probe(): Promise<void> {
    this.#probing ??= (async () => {
      try {
        const s = await this.#store.status();
        this.#latencyMs = s.latencyMs;
        this.#setOnline(true, "status ok");
      } catch (err) {
        this.#setOnline(false, err instanceof Error ? err.message : String(err));
      } finally {
        this.#sweep();
        this.#probing = undefined;
      }
    })();
    return this.#probing;
  }

  #setOnline(online: boolean, why: string): void {
    if (online === this.#online) return;
    this.#online = online;
    if (!online) this.#offlineSince = this.#now();
    this.onChange?.(online, why);
  }

  /** Records the outcome of a store call made outside the cache (create, delete, list). */
  observe(err?: unknown): void {
    if (err === undefined) this.#setOnline(true, "store call ok");
    else if (err instanceof KeyStoreError && err.unreachable) this.#setOnline(false, err.message);
  }

  #servable(e: Entry, now: number): boolean {
    if (!this.#online && this.#expiry.offlineMs > 0) return now - this.#offlineSince < this.#expiry.offlineMs;
    if (this.#expiry.anyMs > 0 && now - e.loadedAt >= this.#expiry.anyMs) return false;
    if (this.#expiry.unusedMs > 0 && now - e.usedAt >= this.#expiry.unusedMs) return false;
    return true;
  }

  /** Drops entries that may no longer serve, so expired keys are not kept. */
  #sweep(): void {
    const now = this.#now();
    for (const [name, e] of this.#entries) if (!this.#servable(e, now)) this.#drop(name);
  }

  // Dropped keys are not wiped: a request that fetched one a moment ago may still be using it.
  #drop(name: string): void {
    this.#entries.delete(name);
  }

  /** The key `name` from the cache, or fetched once from the store. Throws the store's errors. */
  get(name: string): Promise<MasterKey> {
    const now = this.#now();
    const e = this.#entries.get(name);
    if (e) {
      if (this.#servable(e, now)) {
        e.usedAt = now;
        return Promise.resolve(e.key);
      }
      this.#drop(name);
    }
    let p = this.#inflight.get(name);
    if (!p) {
      p = this.#fetch(name).finally(() => this.#inflight.delete(name));
      this.#inflight.set(name, p);
    }
    return p;
  }

  async #fetch(name: string): Promise<MasterKey> {
    this.fetches++;
    try {
      const key = await this.#store.get(name);
      this.observe();
      this.put(name, key);
      return key;
    } catch (err) {
      this.observe(err);
      throw err;
    }
  }

  /** Caches a key the server just created. */
  put(name: string, key: MasterKey): void {
    const now = this.#now();
    this.#entries.set(name, { key, loadedAt: now, usedAt: now });
  }

  /** Forgets a key (deleted). */
  invalidate(name: string): void {
    this.#drop(name);
  }

  /** Number of cached keys. */
  get size(): number {
    return this.#entries.size;
  }

  close(): void {
    clearInterval(this.#timer);
    for (const name of [...this.#entries.keys()]) this.#drop(name);
  }
}
