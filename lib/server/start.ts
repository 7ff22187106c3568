import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { createApp } from "../api/app.ts";
import { type Listener, serveTls } from "../api/serve.ts";
import { SoftHsm } from "../hsm/soft.ts";
import { apiKeyFromSeed, clientCredentials, parseApiKey } from "../identity/apikey.ts";
import { Peers } from "../cluster/peers.ts";
import type { Command } from "../state/commands.ts";
import { loadOrBootstrap, startReplication } from "./replication.ts";
import { stateOf } from "../state/records.ts";
import { DataDirError, openStore } from "../store/store.ts";
import { type DataDirState, inspectDataDir } from "../store/data-dir.ts";
import { parseListenAddress, reachableHosts, reachableUrls } from "./address.ts";
import { KmsNode } from "./node.ts";
import { selfSignedTls, type TlsMaterial, tlsFromFiles } from "./tls.ts";
import { VERSION } from "./version.ts";

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
  /** Called when the node must stop (e.g. the disk failed). */
  readonly onFatal: (err: unknown) => void;
}

/** A started server. */
export interface RunningServer {
  readonly urls: string[];
  readonly port: number;
  /** True when this start created the data directory. */
  readonly created: boolean;
  readonly adminIdentity: string;
  close(): Promise<void>;
}

/** Replication timing: a tick every 100 ms, elections after 1–2 s of silence, writes fail after 2 s. */
const TICK_MS = 100;
const ELECTION_TICKS = 10;

/** The API key all nodes of a cluster derive from the HSM key and present to each other. */
function nodeApiKey(hsm: SoftHsm): string {
  return apiKeyFromSeed(hsm.derive("node-api-key"));
}

/** The host others dial for a listener on `hostname`: a wildcard advertises the first non-loopback IPv4. */
function advertisedHost(hostname: string): string {
  if (hostname !== "0.0.0.0" && hostname !== "::") return hostname.includes(":") ? `[${hostname}]` : hostname;
  return reachableHosts(hostname).find((h) => !h.startsWith("127.")) ?? "127.0.0.1";
}

/** The admin API key the HSM key derives; never stored anywhere. */
export function adminApiKey(hsm: SoftHsm): string {
  return apiKeyFromSeed(hsm.derive("admin-api-key"));
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
    const tls: TlsMaterial = opts.tlsCert && opts.tlsKey
      ? await tlsFromFiles(opts.tlsCert, opts.tlsKey)
      : await selfSignedTls(opts.dir, store, records, reachableHosts(hostname));
    const adminIdentity = parseApiKey(adminApiKey(hsm)).identity;
    const nodeKey = parseApiKey(nodeApiKey(hsm));
    const node = new KmsNode(state, store, {
      version: VERSION, host: "", startedAt: Date.now(), adminIdentity, nodeIdentity: nodeKey.identity, tickMs: TICK_MS, electionTicks: ELECTION_TICKS,
    });
    listener = await serveTls(createApp({ node, kesEnclave: opts.kesEnclave }), { key: tls.key, cert: tls.cert, hostname, port });
    const bound = listener;
    node.info = { ...node.info, host: opts.advertise ?? `${advertisedHost(hostname)}:${bound.port}` };
    const loaded = await loadOrBootstrap(store, records, node);
    // A crash after a received snapshot was saved but before the state was
    // replaced: the state on disk is older than the snapshot, so install it now.
    if (node.state.applied < loaded.durable.snapshot.index) await node.restore(loaded.durable.snapshot);
    const peers = new Peers<Command>(hsm, clientCredentials(nodeKey));
    startReplication(node, store, hsm, peers, loaded, opts.onFatal);
    return {
      urls: reachableUrls(hostname, bound.port),
      port: bound.port,
      created: store.created,
      adminIdentity,
      close: async () => {
        // Stop taking inputs and let the Ready in hand finish before the store closes.
        await node.cluster?.driver.stop();
        peers.close();
        await bound.close();
        await store.close();
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
