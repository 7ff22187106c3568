import { test } from "node:test";
import assert from "node:assert/strict";
import { parseListenAddress, reachableUrls } from "./address.ts";

test("parseListenAddress: ':PORT' listens on every IPv4 interface", () => {
  assert.deepEqual(parseListenAddress(":7373"), { hostname: "0.0.0.0", port: 7373 });
  assert.deepEqual(parseListenAddress(":0"), { hostname: "0.0.0.0", port: 0 });
  assert.deepEqual(parseListenAddress(":65535"), { hostname: "0.0.0.0", port: 65535 });
});

test("parseListenAddress: host names, IPv4 and bracketed IPv6", () => {
  assert.deepEqual(parseListenAddress("127.0.0.1:7373"), { hostname: "127.0.0.1", port: 7373 });
  assert.deepEqual(parseListenAddress("localhost:8443"), { hostname: "localhost", port: 8443 });
  assert.deepEqual(parseListenAddress("[::1]:7373"), { hostname: "::1", port: 7373 });
  assert.deepEqual(parseListenAddress("[::]:7373"), { hostname: "::", port: 7373 });
  assert.deepEqual(parseListenAddress("[fe80::1%eth0]:1"), { hostname: "fe80::1%eth0", port: 1 });
  assert.deepEqual(parseListenAddress("0.0.0.0:7373"), { hostname: "0.0.0.0", port: 7373 });
});

test("parseListenAddress: bad inputs throw an error that names the input and the expected form", () => {
  for (const bad of ["7373", "host:", ":99999", ":65536", "a:b:c", "::1:7373", "", ":", "[::1]", "[::1]7373", "[]:7373", "host:73a", "host:-1", ":123456", "[::1]:7373x"]) {
    assert.throws(
      () => parseListenAddress(bad),
      (e: unknown) => e instanceof Error && e.message.includes(`'${bad}'`) && e.message.includes(":7373"),
      JSON.stringify(bad),
    );
  }
});

test("reachableUrls: a specific host gives one https URL, IPv6 in brackets", () => {
  assert.deepEqual(reachableUrls("127.0.0.1", 7373), ["https://127.0.0.1:7373"]);
  assert.deepEqual(reachableUrls("localhost", 1), ["https://localhost:1"]);
  assert.deepEqual(reachableUrls("::1", 7373), ["https://[::1]:7373"]);
});

test("reachableUrls: a wildcard host lists every local IPv4 interface, loopback included", () => {
  const urls = reachableUrls("0.0.0.0", 7373);
  assert.ok(urls.includes("https://127.0.0.1:7373"), urls.join(" "));
  for (const url of urls) assert.match(url, /^https:\/\/\d+\.\d+\.\d+\.\d+:7373$/);
});

test("parseListenAddress: host parts with spaces or other stray characters are refused", () => {
  for (const bad of [" :7373", "a b:7373", "[x]:7373", "host/x:1"]) assert.throws(() => parseListenAddress(bad), /invalid address/);
});
