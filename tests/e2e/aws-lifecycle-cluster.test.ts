/**
 * The key lifecycle's due jobs on a 3-node cluster, with an injectable clock
 * (KMS_TEST_CLOCK_FILE moves every node's due-job clock, nothing else):
 * automatic rotation and the purge after a deletion date happen once, on
 * every node, across a leader change — the old leader is frozen while the
 * clock passes the due date, a new leader is elected and tries, the old one
 * wakes up still believing it leads and tries too; each job applies once.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as kms from "@aws-sdk/client-kms";
import { DAY_MS } from "../../lib/state/lifecycle.ts";
import { type Cluster, startCluster, until } from "../helpers/cluster.ts";
import { awsIdentity } from "../helpers/aws.ts";
import { kmsClient, type Target } from "../helpers/aws-scenario.ts";

const ENCLAVE = "lifecycle-1";
let cluster: Cluster;
let clockFile: string;
let target: Target;
const clients: kms.KMSClient[] = [];

/** An AWS client of node i. */
function aws(i: number): kms.KMSClient {
  const n = cluster.nodes[i];
  const c = kmsClient({ ...target, endpoint: `https://${n.address}`, ca: n.ca });
  clients.push(c);
  return c;
}

/** Moves every node's due-job clock `days` ahead of the real one. */
const advance = (days: number) => writeFileSync(clockFile, String(days * DAY_MS));

/** What node i says about a key: its versions' rotation types, or "gone". */
async function seen(i: number, keyId: string): Promise<string> {
  try {
    const d = await aws(i).send(new kms.DescribeKeyCommand({ KeyId: keyId }));
    if (d.KeyMetadata!.KeyUsage !== "ENCRYPT_DECRYPT") return d.KeyMetadata!.KeyState!;
    const r = await aws(i).send(new kms.ListKeyRotationsCommand({ KeyId: keyId }));
    return `${d.KeyMetadata!.KeyState} [${r.Rotations!.map((x) => x.RotationType).join(",")}]`;
  } catch (err) {
    return (err as Error).name === "NotFoundException" ? "gone" : `error ${(err as Error).name}`;
  }
}

/** Waits until every node says `want` about each key. */
async function everywhere(want: Record<string, string>, what: string): Promise<void> {
  await until(async () => {
    for (const i of [0, 1, 2]) {
      for (const [key, state] of Object.entries(want)) {
        const s = await seen(i, key);
        if (s !== state) return `node ${i}: ${key} is ${s}, want ${state}`;
      }
    }
    return true;
  }, what, 30_000, 100);
}

describe("rotation and deletion purges on a 3-node cluster (injectable clock)", () => {
  before(async () => {
    const root = path.join((await import("node:os")).tmpdir(), `kms-clock-${process.pid}-${Date.now()}`);
    clockFile = `${root}.offset`;
    advance(0);
    cluster = await startCluster({ size: 3, env: { KMS_TEST_CLOCK_FILE: clockFile } });
    target = await awsIdentity(cluster.client(0), ENCLAVE, "", cluster.nodes[0].ca, "");
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await cluster?.close();
    (await import("node:fs")).rmSync(clockFile, { force: true });
  });

  it("each due job applies once on every node, across a leader change", async () => {
    const c = aws(0);
    const create = async () => (await c.send(new kms.CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    const [rotating, doomed, later, marker] = await Promise.all([create(), create(), create(), create()]);
    await c.send(new kms.EnableKeyRotationCommand({ KeyId: rotating, RotationPeriodInDays: 90 }));
    await c.send(new kms.ScheduleKeyDeletionCommand({ KeyId: doomed, PendingWindowInDays: 7 }));
    const old = (await c.send(new kms.EncryptCommand({ KeyId: rotating, Plaintext: new TextEncoder().encode("v1") }))).CiphertextBlob!;
    await everywhere({ [rotating]: "Enabled []", [doomed]: "PendingDeletion []", [later]: "Enabled []" }, "the keys on every node");

    // Freeze the leader, then let 91 days pass: the others elect a new leader,
    // which finds the jobs due but cannot commit them while the old one is frozen.
    const first = await cluster.leader();
    assert.ok(first !== undefined, cluster.report());
    cluster.pause(first);
    advance(91);
    const others = [0, 1, 2].filter((i) => i !== first);
    await until(async () => {
      const l = await cluster.leader(others);
      return l !== undefined && l !== first ? true : "no new leader yet";
    }, "a new leader", 30_000, 100);
    // The old leader wakes up still believing it leads, with the jobs due at its clock too.
    cluster.resume(first);
    await everywhere({ [rotating]: "Enabled [AUTOMATIC]", [doomed]: "gone", [later]: "Enabled []" }, "one rotation and one purge on every node");

    // Another leader change, then a job due only later (the marker's purge):
    // once it is done everywhere, the new leader has looked at every key, and nothing ran twice.
    const second = await cluster.leader();
    assert.ok(second !== undefined);
    await cluster.stop(second);
    await cluster.restart(second);
    await cluster.waitRecovered();
    // Scheduled at the nodes' clock (day 91): due on days 98 and 121.
    await aws(0).send(new kms.ScheduleKeyDeletionCommand({ KeyId: marker, PendingWindowInDays: 7 }));
    await aws(1).send(new kms.ScheduleKeyDeletionCommand({ KeyId: later, PendingWindowInDays: 30 }));
    advance(91 + 8);
    await everywhere({ [marker]: "gone", [rotating]: "Enabled [AUTOMATIC]", [later]: "PendingDeletion []" }, "the marker purged, the rotation not repeated");

    // The next period: one more rotation; the 30-day window has passed too.
    advance(91 + 91);
    await everywhere({ [rotating]: "Enabled [AUTOMATIC,AUTOMATIC]", [later]: "gone" }, "the second period's rotation");
    for (const i of [0, 1, 2]) {
      const d = await aws(i).send(new kms.DecryptCommand({ CiphertextBlob: old }));
      assert.equal(new TextDecoder().decode(d.Plaintext), "v1", `node ${i} decrypts the first version's ciphertext`);
    }
    await cluster.assertSameState();
  });
});
