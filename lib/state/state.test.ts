import { test } from "node:test";
import assert from "node:assert/strict";
import { statusOf } from "../wire/errors.ts";
import { Buffer } from "node:buffer";
import { apply } from "./apply.ts";
import { Errors, KmsError } from "./errors.ts";
import { SortedMap } from "./sorted-map.ts";
import { findVersion, page, State } from "./state.ts";

const names = (p: { items: Array<{ n: string }> }) => p.items.map((i) => i.n);
/** A map name → { n: name } as the state holds one (a SortedMap), filled in the given (unsorted) order. */
const entries = (...list: string[]) => {
  const m = new SortedMap<{ n: string }>();
  for (const n of list) m.set(n, { n });
  return m;
};

test("the canonical errors have the exact status and message MinIO's client compares", () => {
  const expected: Array<[KmsError, number, string]> = [
    [Errors.accessDenied(), 403, "access denied: insufficient permissions"],
    [Errors.enclaveExists(), 409, "enclave already exists"],
    [Errors.enclaveNotFound(), 404, "enclave does not exist"],
    [Errors.keyExists(), 409, "key already exists"],
    [Errors.keyNotFound(), 404, "key does not exist"],
    [Errors.policyNotFound(), 404, "policy does not exist"],
    [Errors.identityNotFound(), 404, "identity does not exist"],
    [Errors.invalidCiphertext(), 400, "invalid ciphertext"],
  ];
  for (const [err, status, message] of expected) {
    assert.ok(err instanceof KmsError);
    assert.ok(err instanceof Error);
    assert.equal(statusOf(err), status);
    assert.equal(err.message, message);
  }
  assert.equal(statusOf(Errors.badRequest("bad thing")), 400);
  assert.equal(statusOf(Errors.unavailable("later")), 503);
});

test("lookups: enclave, keyRing and keyVersion throw the matching 404", () => {
  const s = new State();
  assert.throws(() => s.enclave("e1"), { kind: "not-found", message: "enclave does not exist" });
  assert.throws(() => s.keyRing("e1", "k"), { kind: "not-found", message: "enclave does not exist" });
  assert.throws(() => s.keyVersion("e1", "k", 0), { kind: "not-found", message: "enclave does not exist" });
  apply(s, { type: "enclave.create", name: "e1", at: 1, by: "x" });
  assert.equal(s.enclave("e1").record.name, "e1");
  assert.throws(() => s.keyRing("e1", "k"), { kind: "not-found", message: "key does not exist" });
  assert.throws(() => s.keyVersion("e1", "k", 0), { kind: "not-found", message: "key does not exist" });
  const material = Buffer.alloc(32, 1).toString("base64");
  const mk = (addVersion: boolean) =>
    apply(s, { type: "key.create", enclave: "e1", name: "k", keyType: "AES256", material, addVersion, at: 1, by: "x" });
  mk(false);
  mk(true);
  mk(true);
  apply(s, { type: "key.delete", enclave: "e1", name: "k", version: 2, allVersions: false });
  assert.equal(s.keyVersion("e1", "k", 0).version, 3);
  assert.equal(s.keyVersion("e1", "k", 1).version, 1);
  assert.equal(s.keyVersion("e1", "k", 3).version, 3);
  assert.throws(() => s.keyVersion("e1", "k", 2), { kind: "not-found", message: "key does not exist" });
  assert.throws(() => s.keyVersion("e1", "k", 4), { kind: "not-found", message: "key does not exist" });
  const ring = s.keyRing("e1", "k");
  assert.equal(findVersion(ring, 3)?.version, 3);
  assert.equal(findVersion(ring, 2), undefined);
  assert.equal(findVersion(ring, 0), undefined, "findVersion has no 'latest' shorthand");
});

test("page: sorted order regardless of insertion order; last page has an empty continueAt", () => {
  const m = entries("delta", "alpha", "charlie", "bravo", "echo");
  const all = page(m, "", "", 10);
  assert.deepEqual(names(all), ["alpha", "bravo", "charlie", "delta", "echo"]);
  assert.equal(all.continueAt, "");
  // Items are the map's own values.
  assert.equal(all.items[0], m.get("alpha"));
  // Exactly `limit` items left is the last page too.
  const exact = page(m, "", "", 5);
  assert.equal(exact.items.length, 5);
  assert.equal(exact.continueAt, "");
});

test("page: limit and continue_at walk the listing; continueAt names the first item of the next page", () => {
  const m = entries("e", "d", "c", "b", "a");
  const p1 = page(m, "", "", 2);
  assert.deepEqual(names(p1), ["a", "b"]);
  assert.equal(p1.continueAt, "c");
  const p2 = page(m, "", p1.continueAt, 2);
  assert.deepEqual(names(p2), ["c", "d"]);
  assert.equal(p2.continueAt, "e");
  const p3 = page(m, "", p2.continueAt, 2);
  assert.deepEqual(names(p3), ["e"]);
  assert.equal(p3.continueAt, "");
  // continue_at need not be an existing name: listing resumes at the next name after it.
  assert.deepEqual(names(page(m, "", "bb", 10)), ["c", "d", "e"]);
  // continue_at past the end: an empty last page.
  const past = page(m, "", "z", 10);
  assert.deepEqual(past.items, []);
  assert.equal(past.continueAt, "");
});

test("page: prefix filters, also together with continue_at and limit", () => {
  const m = entries("key-2", "other", "key-1", "key", "kez", "key-10", "KEY-3", "k");
  assert.deepEqual(names(page(m, "key-", "", 100)), ["key-1", "key-10", "key-2"]);
  assert.deepEqual(names(page(m, "key", "", 100)), ["key", "key-1", "key-10", "key-2"]);
  assert.deepEqual(names(page(m, "KEY", "", 100)), ["KEY-3"], "prefixes are case-sensitive");
  assert.deepEqual(names(page(m, "nothing", "", 100)), []);
  const p1 = page(m, "key-", "", 2);
  assert.deepEqual(names(p1), ["key-1", "key-10"]);
  assert.equal(p1.continueAt, "key-2");
  const p2 = page(m, "key-", p1.continueAt, 2);
  assert.deepEqual(names(p2), ["key-2"]);
  assert.equal(p2.continueAt, "");
  // continueAt is the next name that has the prefix, never one outside it.
  assert.equal(page(m, "k", "", 4).continueAt, "key-2");
  assert.equal(page(m, "key", "", 4).continueAt, "");
});

test("page: an empty map gives one empty last page", () => {
  const p = page(new SortedMap<{ n: string }>(), "", "", 10);
  assert.deepEqual(p.items, []);
  assert.equal(p.continueAt, "");
});

test("page: a full walk returns every name exactly once, in order, for every page size", () => {
  const list: string[] = [];
  for (let i = 0; i < 137; i++) list.push(`name-${(i * 7919) % 1000}`);
  const m = entries(...list.reverse());
  const sorted = [...m.keys()].sort();
  for (const limit of [1, 2, 3, 10, 136, 137, 138, 1000]) {
    const seen: string[] = [];
    let at = "";
    let pages = 0;
    do {
      const p = page(m, "", at, limit);
      assert.ok(p.items.length <= limit);
      seen.push(...names(p));
      at = p.continueAt;
      assert.ok(++pages <= 200, "the walk must end");
    } while (at !== "");
    assert.deepEqual(seen, sorted, `limit ${limit}`);
    assert.equal(pages, Math.max(1, Math.ceil(sorted.length / limit)));
  }
});

test("page: a plain Map (a frozen copy) lists exactly what the SortedMap does", () => {
  const m = entries("key-2", "other", "key-1", "key", "kez", "key-10", "KEY-3", "k", "\u00e9", "\ud83d\ude00", "z");
  const plain = new Map(m);
  const hidden = (n: string) => n !== "key-1";
  for (const prefix of ["", "k", "key", "key-", "zz"]) {
    for (const at of ["", "a", "key", "key-10", "l", "\uffff"]) {
      for (const limit of [0, 1, 2, 100]) {
        assert.deepEqual(page(m, prefix, at, limit, hidden), page(plain, prefix, at, limit, hidden), `${prefix} ${at} ${limit}`);
      }
    }
  }
});
