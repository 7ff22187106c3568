import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { createApp, createRawRoutes } from "../api/app.ts";
import type { ConnectionLimits } from "../net/connections.ts";
import type { SessionLimits } from "../api/console/sessions.ts";
import { type Listener, serveTls } from "../net/serve.ts";
import { SoftHsm } from "../hsm/soft.ts";
import { Peers } from "../node/peers.ts";
import type { Command } from "../state/commands.ts";
import { startDueJobs } from "../node/due-jobs.ts";
import { lifecycleJobs } from "../node/lifecycle-jobs.ts";
import { checkWithPeers } from "../node/peer-check.ts";
import { loadOrBootstrap, membershipOf } from "../node/replication.ts";
import { RingTaker, stateOf } from "../state/records.ts";
import { DataDirError, openStore, type Store } from "../store/store.ts";
import { type DataDirState, inspectDataDir } from "../store/data-dir.ts";
import { parseListenAddress, reachableHosts, reachableUrls } from "../net/address.ts";
import { deletesKeys, KmsNode } from "../node/node.ts";
import { removeAdminKeyFile, writeClusterId } from "./admin-key.ts";
import { adminApiKey } from "../node/admin-key.ts";
import { JOIN_SERVERNAME, NODE_SERVERNAME } from "../node/cluster-ca.ts";
import { type ClusterCredentials, decodeCredentials, encodeCredentials, legacyCredentials, newCredentials } from "../node/credentials.ts";
import { NodeKeys, peerCredentials } from "../node/node-keys.ts";
import { startPurger } from "../node/purge.ts";
import { allMaterial } from "../node/wipe.ts";
import { configureHsmKey } from "./hsm-keys.ts";
import { lockMemory } from "./mlock.ts";
import { nodeKey, tlsFromFiles, writeCaFile } from "./tls.ts";
import { VERSION } from "../version.ts";
import { type Watching, watchNode } from "./watch.ts";
import { ServingThreads, threadsUnavailable } from "./threads.ts";
import { log } from "../log/logger.ts";

/** How to start a server. */
export interface ServerOptions {
  readonly dir: string;
  readonly hsmKey: string;
  readonly addr: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** The address other nodes dial to reach this one (default: the listen address). */
  readonly advertise?: string;
  /** The enclave KES API requests run in (default "default"). */
  readonly kesEnclave?: string;
  /** Connection deadlines and cap (default DEFAULT_LIMITS). */
  readonly limits?: Partial<ConnectionLimits>;
  /** How long deleted keys and enclaves are kept for recovery (default 7 days; 0: erased at once). */
  readonly recoveryWindowMs?: number;
  /** Lock the process's memory (mlockall) before any key is unsealed; refuse to start if that is not permitted. */
  readonly mlock?: boolean;
  /** The browser console's session limits, or false for no console (default: served, default limits). */
  readonly console?: SessionLimits | false;
  /** Called when the node must stop (e.g. the disk failed). */
  readonly onFatal: (err: unknown) => void;
  /** The clock of what falls due with time (key rotation, deletion dates); default Date.now. */
  readonly clock?: () => number;
  /** Keep the hash-chained audit trail in DIR/audit (default true). */
  readonly auditTrail?: boolean;
  /** Also write every audit record to this file ("-": stdout), names in the clear. */
  readonly auditOut?: string;
  /** Collect metrics (default true). */
  readonly metrics?: boolean;
  /** Restarts the process (graceful stop, then the same command again); given by whoever runs the server. */
  readonly restart?: () => void;
  /** Serving threads, the main thread's included (default 1); more need SO_REUSEPORT and Workers (threads.ts). */
  readonly threads?: number;
}

/** A started server. */
export interface RunningServer {
  readonly urls: string[];
  readonly port: number;
  /** True when this start created the data directory. */
  readonly created: boolean;
  /** The cluster the node belongs to (its admin API key derives from it). */
  readonly cluster: string;
  readonly adminIdentity: string;
  /** The cluster's admin API key (the CLI prints it, or writes it to a file, once for a new cluster). */
  readonly adminApiKey: string;
  /** Reopens the `--audit` file by its name (SIGHUP, after a log rotation); throws AuditOutError when it cannot. */
  reopenAudit(): void;
  close(): Promise<void>;
}

/** The default recovery window of deleted keys and enclaves: 7 days. */
export const DEFAULT_RECOVERY_WINDOW_MS = 7 * 24 * 3600_000;

/** Replication timing: a tick every 100 ms, elections after 1–2 s of silence, writes fail after 2 s. */
const TICK_MS = 100;
const ELECTION_TICKS = 10;
/** A stopping node lets writes in flight finish for this long (past their 2 s deadline), then answers "outcome unknown". */
const DRAIN_MS = 2_500;

/** The host others dial for a listener on `hostname`: a wildcard advertises the first non-loopback IPv4. */
function advertisedHost(hostname: string): string {
  if (hostname !== "0.0.0.0" && hostname !== "::") return hostname.includes(":") ? `[${hostname}]` : hostname;
  return reachableHosts(hostname).find((h) => !h.startsWith("127.")) ?? "127.0.0.1";
}

/** Opens (or creates) the data directory, loads the state into memory and serves the APIs over TLS. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const hsm = SoftHsm.parse(opts.hsmKey);
  const { hostname, port } = parseListenAddress(opts.addr);
  // Before anything is unsealed, so no key is ever in unlocked memory.
  if (opts.mlock) lockMemory();
  const before = await inspectDataDir(opts.dir);
  // Key rings go from the store's reading straight to where they are held (compact, parsed on first use).
  const rings = new RingTaker();
  const store = await openStore(opts.dir, hsm, { extra: () => encodeCredentials(newCredentials()), take: (key, value) => rings.take(key, value) });
  let listener: Listener | undefined;
  let watching: Watching | undefined;
  let threads: ServingThreads | undefined;
  const threadCount = servingThreads(opts.threads ?? 1);
  try {
    const records = await store.load();
    let state;
    try {
      // Key rings are parsed on first use: parsing a million at start took most of the start-up.
      state = stateOf(records, { lazyRings: rings });
    } catch {
      // The records decrypted and verified, so they are ours but of a shape this
      // version cannot read; the details could quote key material, so say no more.
      throw new DataDirError(`${opts.dir} holds state this version of kms cannot read`);
    }
    await configureHsmKey(opts.dir, state, store, hsm, store.created ? Date.now() : 0);
    const creds = credentialsAtStart(store, records, hsm);
    // The node's certificate comes from the cluster CA; peers always get it (by SNI), clients unless --tls-cert.
    const advertised = opts.advertise ? [opts.advertise.replace(/:\d+$/, "").replace(/^\[|\]$/g, "")] : [];
    const keys = new NodeKeys(hsm, creds, await nodeKey(store, records), [...reachableHosts(hostname), ...advertised]);
    await writeCaFile(opts.dir, keys.cluster.ca);
    const own = opts.tlsCert && opts.tlsKey ? await tlsFromFiles(opts.tlsCert, opts.tlsKey) : undefined;
    let bound!: Listener;
    const node = new KmsNode(state, store, {
      version: VERSION, host: "", startedAt: Date.now(), adminIdentity: keys.adminIdentity, tickMs: TICK_MS, electionTicks: ELECTION_TICKS,
      recoveryWindowMs: opts.recoveryWindowMs ?? DEFAULT_RECOVERY_WINDOW_MS,
    }, {
      // After a join the key written for the node's first, own cluster opens nothing: remove it.
      onJoined: async (cluster) => {
        await writeClusterId(opts.dir, cluster);
        await removeAdminKeyFile(opts.dir);
      },
      // New credentials (a join, a restore): peers, and clients unless --tls-cert, get certificates of the new CA.
      onKeys: async (k) => {
        bound.setSni(NODE_SERVERNAME, k.cluster.tls);
        if (!own) bound.setTls(k.cluster.tls);
        threads?.useKeys({ sni: [{ servername: NODE_SERVERNAME, ...k.cluster.tls }], tls: own ? undefined : k.cluster.tls, adminIdentity: k.adminIdentity });
        await writeCaFile(opts.dir, k.cluster.ca);
      },
      clock: opts.clock,
      // With serving threads: every applied batch reaches their replicas, and a write is acknowledged once all show it.
      onApplied: (entries) => threads?.applied(entries),
      onReplaced: (state) => threads?.replaced(state),
      visible: (index) => threads?.visible(index),
    });
    const tls = own ?? keys.cluster.tls;
    watching = await watchNode(node, hsm, opts, () => listener?.guard, () => threads?.connections() ?? 0);
    const deps = { node, kesEnclave: opts.kesEnclave, ops: watching.ops, console: opts.console };
    // The native endpoint's and the node-to-node calls' fast path, watched (metrics, audit) as the app's routes are.
    const raw = createRawRoutes(deps);
    const app = createApp(deps);
    const sni = [{ servername: NODE_SERVERNAME, ...keys.cluster.tls }, { servername: JOIN_SERVERNAME, ...keys.join.tls }];
    listener = await serveTls(app, {
      key: tls.key, cert: tls.cert, hostname, port, limits: opts.limits, sni,
      // Until replication runs the node answers nothing: clients go to another node (a restart loses no read).
      refuseClients: () => node.cluster === "",
      reusePort: threadCount > 1,
    }, raw);
    bound = listener;
    node.listening(opts.advertise ?? `${advertisedHost(hostname)}:${bound.port}`);
    if (threadCount > 1) {
      threads = await ServingThreads.start({
        count: threadCount - 1, node, app, ops: watching.ops, hostname, port: bound.port, limits: opts.limits,
        tls: { key: tls.key, cert: tls.cert, sni }, onFatal: opts.onFatal,
      });
    }
    const loaded = await loadOrBootstrap(store, records, node.info.host, () => node.initialSnapshot());
    // A crash after a received snapshot was saved but before the state was
    // replaced: the state on disk is older than the snapshot, so install it now.
    if (node.state.applied < loaded.durable.snapshot.index) await node.restore(loaded.durable.snapshot);
    // root.seal holds the credentials, sealed for every configured HSM key: bring an older or stale one up to date.
    const sealedFor = [...store.seal.sealedFor].sort().join();
    if (store.seal.version === 1 || !store.seal.extra?.length || sealedFor !== [...node.state.hsmKeys.keys()].sort().join()) {
      await store.reseal(encodeCredentials(creds), [...node.state.hsmKeys.values()]);
    }
    await writeClusterId(opts.dir, loaded.membership.cluster);
    const peers = new Peers<Command>(peerCredentials(keys.cluster), NODE_SERVERNAME);
    peers.cluster = loaded.membership.cluster;
    // What a peer's acknowledgement covers must be visible to the threads' read barrier first.
    if (threads) peers.beforeSend = () => threads!.publish();
    // Reads and votes wait for this: until replication starts the node answers "starting".
    const { durable, readFloor } = await checkWithPeers(peers, loaded);
    node.replicate(keys, peers, { ...loaded, durable }, readFloor, opts.onFatal);
    threads?.publish();
    const purger = startPurger(node);
    const dueJobs = startDueJobs(node, [lifecycleJobs]);
    // A key deletion whose erase a stop interrupted is still in the log: finish it.
    if (loaded.durable.entries.some((e) => e.type === "cmd" && deletesKeys(e.cmd))) node.eraseInBackground();
    return {
      urls: reachableUrls(hostname, bound.port),
      port: bound.port,
      created: store.created,
      cluster: loaded.membership.cluster,
      adminIdentity: node.info.adminIdentity,
      adminApiKey: adminApiKey(keys.creds),
      reopenAudit: () => watching!.reopen(),
      close: async () => {
        // Refuse new writes, let those in flight finish (bounded), then stop
        // replicating once the Ready in hand is done: nothing writes to the
        // store any more, so the data directory is released at once.
        purger.stop();
        dueJobs.stop();
        await node.drain(DRAIN_MS);
        await store.close();
        peers.close();
        // Answers already computed still go out (reads are served from memory
        // until then); connections still busy at the shutdown deadline are cut.
        // Open log streams end first: they would hold the listener to its deadline.
        watching!.ops.feeds.closeAll();
        await Promise.all([bound.close(), threads?.close()]);
        await watching!.close();
        node.wiper.wipe(allMaterial(node.state));
      },
    };
  } catch (err) {
    await threads?.close(0);
    await listener?.close();
    await watching?.close(true);
    await store.close();
    // A start that failed (e.g. the port is taken) must not leave a half-made
    // directory that the next start would take for an existing one.
    if (store.created) await undoCreate(opts.dir, before);
    throw err;
  }
}

/** The serving threads to run: `asked`, or 1 where this runtime cannot run more (said once, clearly). */
function servingThreads(asked: number): number {
  if (asked <= 1) return 1;
  const why = threadsUnavailable();
  if (!why) return asked;
  log.warn(`serving with one thread, not ${asked}: ${why}`);
  return 1;
}

/** Removes what creating a data directory made: the directory itself, or what was put in an empty one. */
async function undoCreate(dir: string, before: DataDirState): Promise<void> {
  if (before === "missing") return rm(dir, { recursive: true, force: true });
  await Promise.all((await readdir(dir)).map((name) => rm(path.join(dir, name), { recursive: true, force: true })));
}

/** The cluster credentials root.seal holds; a directory of an older format gets the ones it had, derived from its HSM key. */
function credentialsAtStart(store: Store, records: Map<string, Uint8Array>, hsm: SoftHsm): ClusterCredentials {
  if (store.seal.extra?.length) return decodeCredentials(store.seal.extra);
  const membership = membershipOf(records);
  return membership ? legacyCredentials(hsm, membership.cluster) : newCredentials();
}
