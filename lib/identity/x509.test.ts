import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, verify, X509Certificate } from "node:crypto";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import tls from "node:tls";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { clientCredentials, ed25519FromSeed, newApiKey, parseApiKey } from "./apikey.ts";
import { identityOfCertificate } from "./identity.ts";
import { openssl, withTempDir, writeTemp } from "../../tests/support/openssl.ts";
import { caCertificate, newServerKey, selfSignedCertificate } from "./x509.ts";

const DAY = 86_400_000;

function ecKey(curve: string): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: curve }).privateKey;
}

const keyTypes: [string, () => KeyObject][] = [
  ["ed25519", () => generateKeyPairSync("ed25519").privateKey],
  ["P-256", () => ecKey("prime256v1")],
  ["P-384", () => ecKey("secp384r1")],
  ["P-521", () => ecKey("secp521r1")],
];

function serverCertificate(key: KeyObject = newServerKey()) {
  const cert = selfSignedCertificate({
    privateKey: key,
    commonName: "localhost",
    dnsNames: ["localhost", "kms.example"],
    ipAddresses: ["127.0.0.1", "::1"],
    days: 30,
    purpose: "server",
  });
  return { cert, key: key.export({ type: "pkcs8", format: "pem" }) as string };
}

/** Starts `server` on 127.0.0.1 with an ephemeral port, runs `fn`, and always closes it and its connections. */
async function withServer<T>(server: tls.Server, fn: (port: number) => Promise<T>): Promise<T> {
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  try {
    return await fn((server.address() as AddressInfo).port);
  } finally {
    // close() waits for open connections, such as HTTP keep-alive ones.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }
}

/** Connects with node:tls, reads until the server ends, and returns the text. */
function tlsRead(options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

/** X509Certificate.verify, except where Deno lacks P-521: then check the signature over the TBS bytes with node:crypto. */
function verifiesWith(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.verify(key);
  } catch (err) {
    if (!/unsupported EC curve/i.test(String(err))) throw err;
  }
  const parsed = AsnConvert.parse(cert.raw, Certificate);
  return verify("sha512", new Uint8Array(parsed.tbsCertificateRaw!), key, new Uint8Array(parsed.signatureValue));
}

/** Completes a node:tls handshake and reports whether the peer was verified; rejects if verification failed. */
function tlsAuthorized(options: tls.ConnectionOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options, () => {
      resolve(socket.authorized);
      socket.destroy();
    });
    socket.on("error", reject);
  });
}

for (const [name, makeKey] of keyTypes) {
  test(`${name} certificate parses and verifies against itself`, () => {
    const privateKey = makeKey();
    const pem = selfSignedCertificate({
      privateKey,
      commonName: "h1:test",
      dnsNames: ["a.example"],
      ipAddresses: ["10.1.2.3", "2001:db8::7"],
      days: 90,
      purpose: "client",
    });
    const cert = new X509Certificate(pem);
    assert.match(cert.subject, /CN=h1:test/);
    assert.equal(cert.subject, cert.issuer);
    assert.match(cert.subjectAltName ?? "", /DNS:a\.example/);
    assert.match(cert.subjectAltName ?? "", /IP Address:10\.1\.2\.3/);
    assert.match(cert.subjectAltName ?? "", /IP Address:(2001:DB8:0:0:0:0:0:7|2001:db8::7)/i);
    assert.ok(cert.checkIssued(cert));
    const publicKey = createPublicKey(privateKey);
    assert.ok(verifiesWith(cert, publicKey));
    assert.ok(!verifiesWith(cert, createPublicKey(makeKey())));
    const lifetime = Date.parse(cert.validTo) - Date.now();
    assert.ok(lifetime > 90 * DAY - 60_000 && lifetime <= 90 * DAY, `lifetime ${lifetime}`);
    assert.ok(Date.parse(cert.validFrom) <= Date.now());
    const spki = publicKey.export({ type: "spki", format: "der" });
    assert.equal(identityOfCertificate(pem), "h1:" + createHash("sha256").update(spki).digest("base64url"));
  });
}

test("serial numbers are random, positive and at most 128 bits", () => {
  const key = newServerKey();
  const serials = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const cert = new X509Certificate(selfSignedCertificate({ privateKey: key, commonName: "x", days: 1, purpose: "client" }));
    const serial = BigInt("0x" + cert.serialNumber);
    assert.ok(serial > 0n && serial < 1n << 128n);
    serials.add(cert.serialNumber);
  }
  assert.equal(serials.size, 8);
});

test("openssl accepts client and server certificates", async () => {
  await withTempDir((dir) => {
    const client = writeTemp(dir, "client.pem", clientCredentials(parseApiKey(newApiKey())).cert);
    const clientText = openssl(["x509", "-noout", "-text", "-in", client]).toString();
    assert.match(clientText, /TLS Web Client Authentication/);
    assert.doesNotMatch(clientText, /TLS Web Server Authentication/);
    assert.match(clientText, /Digital Signature/);
    assert.match(clientText, /Signature Algorithm: ED25519/i);
    assert.match(openssl(["verify", "-CAfile", client, client]).toString(), /: OK/);

    for (const [name, makeKey] of keyTypes) {
      const server = writeTemp(dir, `server-${name}.pem`, serverCertificate(makeKey()).cert);
      const text = openssl(["x509", "-noout", "-text", "-in", server]).toString();
      assert.match(text, /TLS Web Server Authentication/);
      assert.match(text, /CA:FALSE/);
      assert.match(text, /Digital Signature, Certificate Sign/);
      assert.match(text, /DNS:localhost/);
      assert.match(text, /IP Address:127\.0\.0\.1/);
      assert.match(text, /IP Address:0:0:0:0:0:0:0:1/);
      assert.match(openssl(["verify", "-purpose", "sslserver", "-CAfile", server, server]).toString(), /: OK/, name);
    }
  });
});

test("unsupported keys and bad options are refused", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
  assert.throws(() => selfSignedCertificate({ privateKey: rsa, commonName: "x", days: 1, purpose: "client" }), /unsupported key/);
  const pub = createPublicKey(newServerKey());
  assert.throws(() => selfSignedCertificate({ privateKey: pub, commonName: "x", days: 1, purpose: "client" }), /private key/);
  const key = newServerKey();
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: "x", days: 1, purpose: "server", ipAddresses: ["localhost"] }), /invalid IP/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: "x", days: 1, purpose: "server", dnsNames: ["a b"] }), /invalid DNS/);
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: "", days: 1, purpose: "server" }));
  assert.throws(() => selfSignedCertificate({ privateKey: key, commonName: "x", days: 0, purpose: "server" }));
});

/** A cluster CA made by kms's earlier, hand-written DER encoder from the seed and fields below. */
const PINNED_CA = `-----BEGIN CERTIFICATE-----
MIIBNzCB6qADAgECAhEAgBERERERERERERERERERETAFBgMrZXAwKjEoMCYGA1UE
Awwfa21zIGNsdXN0ZXIgQ0EgMDcwNzA3MDcwNzA3MDcwNzAgFw0yNDAxMDEwMDAw
MDBaGA8yMTI0MDEwMTAwMDAwMFowKjEoMCYGA1UEAwwfa21zIGNsdXN0ZXIgQ0Eg
MDcwNzA3MDcwNzA3MDcwNzAqMAUGAytlcAMhAOpKbGPinFIKvvVQexMuxfmVR3au
vr57kkIe6mkURtIsoyMwITAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIB
hjAFBgMrZXADQQDnLr3M7t3k1E6BE8uvbMt2ENK2nird82o5P7A7ykB1JSviSq81
/ALVXcaeF9171IjgS/v/hDs+ntCwipqC/IUK
-----END CERTIFICATE-----
`;

test("the cluster CA certificate is the same, byte for byte, on every node and every version", () => {
  // Nodes of one cluster (and of mixed versions during an upgrade) derive this certificate apart.
  const cert = caCertificate({
    privateKey: ed25519FromSeed(new Uint8Array(32).fill(7)),
    commonName: "kms cluster CA 0707070707070707",
    notBefore: new Date("2024-01-01T00:00:00Z"),
    notAfter: new Date("2124-01-01T00:00:00Z"), // GeneralizedTime after 2049
    serial: Uint8Array.from(Buffer.from("80" + "11".repeat(15), "hex")), // high bit set: a sign byte
  });
  assert.equal(cert, PINNED_CA);
});

test("newServerKey makes P-256 keys", () => {
  const key = newServerKey();
  assert.equal(key.type, "private");
  assert.equal(key.asymmetricKeyType, "ec");
  assert.equal((key.export({ format: "jwk" }) as { crv: string }).crv, "P-256");
});

test("a self-signed server certificate is its own trust anchor for node:tls and node:https", async () => {
  const { cert, key } = serverCertificate();
  const server = https.createServer({ key, cert }, (_req, res) => res.end("ok"));
  await withServer(server, async (port) => {
    const get = (options: https.RequestOptions) =>
      new Promise<string>((resolve, reject) => {
        const req = https.get({ host: "127.0.0.1", port, path: "/", agent: false, ...options }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve(body));
        });
        req.on("error", reject);
      });
    assert.equal(await get({ ca: cert }), "ok"); // by IP address
    assert.equal(await get({ ca: cert, servername: "localhost" }), "ok"); // by DNS name
    for (const servername of [undefined, "localhost"]) {
      assert.equal(await tlsAuthorized({ host: "127.0.0.1", port, ca: cert, servername }), true);
    }
    // The checks must be able to fail: another certificate, or a name it lacks.
    const other = serverCertificate().cert;
    await assert.rejects(get({ ca: other }));
    await assert.rejects(get({ ca: cert, servername: "elsewhere.example" }));
  });
});

test("mTLS: the server identifies each kind of API key by its certificate", async () => {
  const { cert, key } = serverCertificate();
  const server = tls.createServer({ key, cert, requestCert: true, rejectUnauthorized: false }, (socket) => {
    const peer = socket.getPeerCertificate(true);
    socket.end(peer?.raw ? identityOfCertificate(new Uint8Array(peer.raw)) : "no certificate");
  });
  const keys = [newApiKey()];
  for (const curve of ["prime256v1", "secp384r1", "secp521r1"]) {
    keys.push("k2:" + (ecKey(curve).export({ format: "jwk" }) as { d: string }).d);
  }
  await withServer(server, async (port) => {
    for (const text of keys) {
      const apiKey = parseApiKey(text);
      const creds = clientCredentials(apiKey);
      for (const servername of [undefined, "localhost"]) {
        const seen = await tlsRead({ host: "127.0.0.1", port, servername, ca: cert, key: creds.key, cert: creds.cert });
        assert.equal(seen, apiKey.identity);
      }
    }
    // Without a client certificate the server sees none, so the identity above came from the handshake.
    assert.equal(await tlsRead({ host: "127.0.0.1", port, ca: cert }), "no certificate");
  });
});

test("PEM output is well formed", () => {
  const pem = serverCertificate().cert;
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/);
  const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  assert.equal(new X509Certificate(der).raw.length, der.length);
});

/** Deno's own TLS (rustls), which refuses CA certificates as leaves; absent under Bun. */
interface DenoTls {
  listenTls(o: { hostname: string; port: number; cert: string; key: string }): AsyncIterable<DenoConn> & { addr: { port: number }; close(): void };
  connectTls(o: { hostname: string; port: number; caCerts: string[] }): Promise<DenoConn>;
}
interface DenoConn {
  handshake(): Promise<unknown>;
  close(): void;
}
const deno = (globalThis as { Deno?: DenoTls }).Deno;

test("rustls (Deno.connectTls) accepts a pinned server certificate", { skip: deno ? false : "Deno only" }, async () => {
  const { cert, key } = serverCertificate();
  const listener = deno!.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const accepted = (async () => {
    for await (const conn of listener) {
      await conn.handshake().catch(() => {});
      conn.close();
    }
  })();
  try {
    // By IP only: "localhost" might resolve to ::1, where nothing listens.
    const conn = await deno!.connectTls({ hostname: "127.0.0.1", port: listener.addr.port, caCerts: [cert] });
    await conn.handshake();
    conn.close();
    const other = serverCertificate().cert;
    await assert.rejects(async () => {
      const conn = await deno!.connectTls({ hostname: "127.0.0.1", port: listener.addr.port, caCerts: [other] });
      try {
        await conn.handshake();
      } finally {
        conn.close();
      }
    });
  } finally {
    listener.close();
    await accepted.catch(() => {});
  }
});
