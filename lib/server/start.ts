import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { createApp, createRawRoute } from "../api/app.ts";
import type { ConnectionLimits } from "../net/connections.ts";
import { type Listener, serveTls } from "../net/serve.ts";
import { SoftHsm } from "../hsm/soft.ts";
import { Peers } from "../node/peers.ts";
import type { Command } from "../state/commands.ts";
import { checkWithPeers } from "../node/peer-check.ts";
import { loadOrBootstrap } from "../node/replication.ts";
import { stateOf } from "../state/records.ts";
import { DataDirError, openStore } from "../store/store.ts";
import { type DataDirState, inspectDataDir } from "../store/data-dir.ts";
import { parseListenAddress, reachableHosts, reachableUrls } from "../net/address.ts";
import { deletesKeys, KmsNode } from "../node/node.ts";
import { removeAdminKeyFile, writeClusterId } from "./admin-key.ts";
import { adminIdentityOf } from "../node/admin-key.ts";
import { nodeTls, tlsFromFiles } from "./tls.ts";
import { clusterCa, NODE_SERVERNAME } from "../node/cluster-ca.ts";
import { VERSION } from "../version.ts";

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
  /** Called when the node must stop (e.g. the disk failed). */
  readonly onFatal: (err: unknown) => void;
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
  close(): Promise<void>;
}

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
  const before = await inspectDataDir(opts.dir);
  const store = await openStore(opts.dir, hsm);
  let listener: Listener | undefined;
  try {
    const records = await store.load();
    let state;
    try {
      state = stateOf(records);
    } catch {
      // The records decrypted and verified, so they are ours but of a shape this
      // version cannot read; the details could quote key material, so say no more.
      throw new DataDirError(`${opts.dir} holds state this version of kms cannot read`);
    }
    // The node's certificate comes from the cluster CA; peers always get it (by SNI), clients unless --tls-cert.
    const advertised = opts.advertise ? [opts.advertise.replace(/:\d+$/, "").replace(/^\[|\]$/g, "")] : [];
    const nodeCert = await nodeTls(opts.dir, store, records, [...reachableHosts(hostname), ...advertised], hsm);
    const tls = opts.tlsCert && opts.tlsKey ? await tlsFromFiles(opts.tlsCert, opts.tlsKey) : nodeCert;
    const joined = async (cluster: string) => {
      node.setAdminIdentity(adminIdentityOf(hsm, cluster));
      await writeClusterId(opts.dir, cluster);
    };
    // The admin identity depends on the cluster, known once the replication state is loaded.
    const node = new KmsNode(state, store, {
      version: VERSION, host: "", startedAt: Date.now(), adminIdentity: "", tickMs: TICK_MS, electionTicks: ELECTION_TICKS,
    }, {
      // After a join the key written for the node's first, own cluster opens nothing: remove it.
      onJoined: async (cluster) => {
        await joined(cluster);
        await removeAdminKeyFile(opts.dir);
      },
    });
    const deps = { node, kesEnclave: opts.kesEnclave };
    listener = await serveTls(createApp(deps), {
      key: tls.key, cert: tls.cert, hostname, port, limits: opts.limits, sni: { servername: NODE_SERVERNAME, ...nodeCert },
    }, createRawRoute(deps));
    const bound = listener;
    node.listening(opts.advertise ?? `${advertisedHost(hostname)}:${bound.port}`);
    const loaded = await loadOrBootstrap(store, records, node.info.host, node.initialSnapshot());
    // A crash after a received snapshot was saved but before the state was
    // replaced: the state on disk is older than the snapshot, so install it now.
    if (node.state.applied < loaded.durable.snapshot.index) await node.restore(loaded.durable.snapshot);
    await joined(loaded.membership.cluster);
    const peers = new Peers<Command>(hsm, nodeCert, clusterCa(hsm).cert, NODE_SERVERNAME);
    peers.cluster = loaded.membership.cluster;
    // Reads and votes wait for this: until replication starts the node answers "starting".
    const { durable, readFloor } = await checkWithPeers(peers, loaded);
    node.replicate(hsm, peers, { ...loaded, durable }, readFloor, opts.onFatal);
    // A key deletion whose erase a stop interrupted is still in the log: finish it.
    if (loaded.durable.entries.some((e) => e.type === "cmd" && deletesKeys(e.cmd))) node.eraseInBackground();
    return {
      urls: reachableUrls(hostname, bound.port),
      port: bound.port,
      created: store.created,
      cluster: loaded.membership.cluster,
      adminIdentity: node.info.adminIdentity,
      close: async () => {
        // Refuse new writes, let those in flight finish (bounded), then stop
        // replicating once the Ready in hand is done: nothing writes to the
        // store any more, so the data directory is released at once.
        await node.drain(DRAIN_MS);
        await store.close();
        peers.close();
        // Answers already computed still go out (reads are served from memory
        // until then); connections still busy at the shutdown deadline are cut.
        await bound.close();
      },
    };
  } catch (err) {
    await listener?.close();
    await store.close();
    // A start that failed (e.g. the port is taken) must not leave a half-made
    // directory that the next start would take for an existing one.
    if (store.created) await undoCreate(opts.dir, before);
    throw err;
  }
}

/** Removes what creating a data directory made: the directory itself, or what was put in an empty one. */
async function undoCreate(dir: string, before: DataDirState): Promise<void> {
  if (before === "missing") return rm(dir, { recursive: true, force: true });
  await Promise.all((await readdir(dir)).map((name) => rm(path.join(dir, name), { recursive: true, force: true })));
}
