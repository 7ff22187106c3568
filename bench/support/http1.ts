/**
 * A lean HTTP/1.1 client connection over TLS with a client certificate, one
 * request in flight, kept alive for the whole run: the load generator's unit.
 * It speaks only what the benchmarks need (POST with a body, replies with a
 * Content-Length), so the client spends as little CPU as possible per request.
 */
import tls from "node:tls";

/** An HTTP reply as the benchmarks need it. */
export interface Reply {
  readonly status: number;
  readonly body: Buffer;
}

/** TLS settings of a benchmark connection. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** PEM the server's certificate must chain to. */
  readonly ca: string;
  readonly key: string;
  readonly cert: string;
}

/** The bytes of `POST path` with body: built once, sent many times. */
export function postRequest(host: string, path: string, body: Uint8Array): Buffer {
  const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\n` +
    `Accept: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** One keep-alive TLS connection; send() resolves with the reply to the request it wrote. */
export class Http1Connection {
  readonly #socket: tls.TLSSocket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  #closed: Error | undefined;
  /** When the request in flight was sent (performance.now()), or 0. */
  sentAt = 0;

  private constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (e) => this.#fail(e));
    socket.on("close", () => this.#fail(new Error("connection closed by the server")));
  }

  /** Opens a connection and completes the TLS handshake. */
  static connect(ep: Endpoint): Promise<Http1Connection> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: ep.host, port: ep.port, ca: ep.ca, key: ep.key, cert: ep.cert, servername: "localhost" }, () => {
        socket.off("error", reject);
        socket.setNoDelay(true);
        resolve(new Http1Connection(socket));
      });
      socket.once("error", reject);
    });
  }

  /** Writes one request (bytes from postRequest) and waits for its reply. */
  send(request: Buffer): Promise<Reply> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (this.#pending) return Promise.reject(new Error("a request is already in flight on this connection"));
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.sentAt = performance.now();
      this.#socket.write(request);
    });
  }

  /** Ends the connection (the request in flight, if any, fails with reason). */
  destroy(reason = new Error("connection closed")): void {
    this.#fail(reason);
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const end = this.#buffer.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.#buffer.toString("latin1", 0, end);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) return this.destroy(new Error(`reply without Content-Length: ${head.split("\r\n")[0]}`));
    const total = end + HEAD_END.length + Number(length[1]);
    if (this.#buffer.length < total) return;
    const reply = { status: Number(head.slice(9, 12)), body: this.#buffer.subarray(end + HEAD_END.length, total) };
    this.#buffer = this.#buffer.subarray(total);
    const pending = this.#pending;
    this.#pending = undefined;
    this.sentAt = 0;
    pending?.resolve(reply);
  }

  #fail(err: Error): void {
    this.#closed ??= err;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(err);
  }
}
