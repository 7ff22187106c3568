/**
 * What a running node holds to take part in its cluster — the cluster's
 * credentials, the CA and node certificate they give, the admin identity —
 * and what it trusts, from its own HSM key, for a call asking it to join
 * (docs/recovery.md). Replaced whole when the node joins another cluster or
 * is restored from a backup.
 */
import { type JoinSecrets, joinSecretsOf } from "../hsm/keys.ts";
import type { SoftHsm } from "../hsm/soft.ts";
import { adminIdentityOf } from "./admin-key.ts";
import { type ClusterCa, clusterCa, nodeTls, type TlsMaterial } from "./cluster-ca.ts";
import type { ClusterCredentials } from "./credentials.ts";
import type { PeerCredentials } from "./peers.ts";

/** One side of the node-to-node protocol: a CA, the node's certificate from it, and the sealing key. */
export interface Trust {
  readonly ca: ClusterCa;
  readonly tls: TlsMaterial;
  readonly rpc: Uint8Array;
}

/** The peer credentials of a side. */
export function peerCredentials(t: Trust): PeerCredentials {
  return { key: t.tls.key, cert: t.tls.cert, ca: t.ca.cert, rpc: t.rpc };
}

/** The node's keys: immutable; a change makes a new NodeKeys. */
export class NodeKeys {
  readonly hsm: SoftHsm;
  readonly creds: ClusterCredentials;
  /** The cluster side: every call between members. */
  readonly cluster: Trust;
  /** The join side: the CA and key a fresh node started with `hsm` trusts for a join call. */
  readonly join: Trust;
  readonly adminIdentity: string;
  readonly #keyPem: string;
  readonly #hosts: readonly string[];

  /** Keys for `creds`, with certificates for the node's key (`keyPem`) valid for `hosts`. */
  constructor(hsm: SoftHsm, creds: ClusterCredentials, keyPem: string, hosts: readonly string[]) {
    this.hsm = hsm;
    this.creds = creds;
    this.#keyPem = keyPem;
    this.#hosts = hosts;
    const ca = clusterCa(creds.ca);
    this.cluster = { ca, tls: nodeTls(keyPem, ca, hosts), rpc: creds.rpc };
    this.join = this.joinTrust(joinSecretsOf(hsm));
    this.adminIdentity = adminIdentityOf(creds);
  }

  /** The same node with other cluster credentials. */
  with(creds: ClusterCredentials): NodeKeys {
    return new NodeKeys(this.hsm, creds, this.#keyPem, this.#hosts);
  }

  /** The join side of an HSM key: what a leader presents to a fresh node started with that key. */
  joinTrust(secrets: JoinSecrets): Trust {
    const ca = clusterCa(secrets.ca);
    return { ca, tls: nodeTls(this.#keyPem, ca, this.#hosts), rpc: secrets.rpc };
  }
}
