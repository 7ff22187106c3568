/** The backup format: round trip, any of several HSM keys opens it, and every truncation, flipped byte or foreign key is refused. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { SoftHsm } from "../hsm/soft.ts";
import { stateHashOf } from "./state-hash.ts";
import { BackupError, backupStream, openBackup } from "./backup.ts";

const enc = new TextEncoder();
const records: Array<[string, Uint8Array]> = Array.from({ length: 300 }, (_, i) => [`k/e/key-${i}`, enc.encode(JSON.stringify({ n: i, pad: "x".repeat(i * 7) }))]);
const hsmA = SoftHsm.parse(SoftHsm.generate());
const hsmB = SoftHsm.parse(SoftHsm.generate());
const credentials = enc.encode("credentials");

async function bytesOf(compress: boolean, recipients = [hsmA, hsmB]): Promise<Uint8Array> {
  const stream = backupStream({
    cluster: "a".repeat(32), index: 42, commit: 7, compress, recipients, credentials, records: records[Symbol.iterator](),
  });
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A stream of `bytes` in small pieces, as a network delivers them. */
function streamOf(bytes: Uint8Array, piece = 997): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at += piece));
    },
  });
}

const open = (bytes: Uint8Array, hsm = hsmA) => openBackup(streamOf(bytes), hsm, 1 << 30);

test("round trip, plain and compressed, opened with either configured HSM key; the state hash is the records'", async () => {
  for (const compress of [false, true]) {
    const bytes = await bytesOf(compress);
    for (const hsm of [hsmA, hsmB]) {
      const b = await open(bytes, hsm);
      assert.equal(b.header.index, 42);
      assert.equal(b.header.commit, 7);
      assert.deepEqual(b.credentials, credentials);
      assert.deepEqual([...b.records], records);
      assert.equal(b.stateHash, stateHashOf(records));
    }
  }
  assert.ok((await bytesOf(true)).length < (await bytesOf(false)).length / 2, "compression works");
});

test("another HSM key is refused, naming the keys it is sealed for", async () => {
  const other = SoftHsm.parse(SoftHsm.generate());
  await assert.rejects(open(await bytesOf(false), other), (e: Error) =>
    e instanceof BackupError && e.message.includes(hsmA.fingerprint) && e.message.includes(other.fingerprint));
});

test("every truncation and every flipped byte is refused with a BackupError", async () => {
  const bytes = await bytesOf(true, [hsmA]);
  for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 400))) {
    await assert.rejects(open(bytes.subarray(0, cut)), BackupError, `cut at ${cut}`);
  }
  for (let i = 0; i < bytes.length; i += Math.max(1, Math.floor(bytes.length / 400))) {
    const damaged = bytes.slice();
    damaged[i] ^= 0x40;
    await assert.rejects(open(damaged), BackupError, `byte ${i} flipped`);
  }
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  await assert.rejects(open(longer), /data after its last chunk/);
});
