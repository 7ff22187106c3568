import { test } from "node:test";
import assert from "node:assert/strict";
import { ipAddressBytes } from "./ip.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

test("IPv4 addresses", () => {
  assert.equal(hex(ipAddressBytes("127.0.0.1")), "7f000001");
  assert.equal(hex(ipAddressBytes("255.255.255.0")), "ffffff00");
  for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ""]) {
    assert.throws(() => ipAddressBytes(bad), RangeError, bad);
  }
});

test("IPv6 addresses", () => {
  assert.equal(hex(ipAddressBytes("::1")), "00000000000000000000000000000001");
  assert.equal(hex(ipAddressBytes("::")), "00000000000000000000000000000000");
  assert.equal(hex(ipAddressBytes("fe80::1:2")), "fe800000000000000000000000010002");
  assert.equal(hex(ipAddressBytes("2001:DB8:0:0:0:0:0:1")), "20010db8000000000000000000000001");
  assert.equal(hex(ipAddressBytes("1::")), "00010000000000000000000000000000");
  assert.equal(hex(ipAddressBytes("::ffff:10.0.0.1")), "00000000000000000000ffff0a000001");
  assert.equal(hex(ipAddressBytes("0:0:0:0:0:ffff:10.0.0.1")), "00000000000000000000ffff0a000001");
  for (const bad of [":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8::", "1.2.3.4::", "::1.2.3", "fe80::1%eth0"]) {
    assert.throws(() => ipAddressBytes(bad), RangeError, bad);
  }
});
