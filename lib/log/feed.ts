/**
 * Endless HTTP reply bodies fed by a subscription (log and audit streams).
 * A reader that falls behind never grows the server's memory: at most
 * `queue` chunks wait for it, and what arrives beyond that is dropped and
 * counted. A stream ends when its reader goes away or when the server
 * closes every stream (at shutdown: open streams must not hold it up).
 */

/** How to feed one stream. */
export interface FeedOptions<T> {
  /** Starts delivering items to `push`; returns the function that stops. */
  readonly subscribe: (push: (item: T) => void) => () => void;
  /** The bytes of one item, or undefined to skip it. */
  readonly encode: (item: T) => Uint8Array | undefined;
  /** Items sent first (a replay of recent ones). */
  readonly initial?: readonly T[];
  /** Most chunks waiting for a slow reader (default 1,024). */
  readonly queue?: number;
}

/** The open feeds of one server. */
export class Feeds {
  readonly #open = new Set<() => void>();
  /** Items dropped because a reader fell behind. */
  dropped = 0;

  /** Number of open streams. */
  get size(): number {
    return this.#open.size;
  }

  /** A new endless stream of encoded items. */
  stream<T>(opts: FeedOptions<T>): ReadableStream<Uint8Array> {
    let stop = () => {};
    let end = () => {};
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const push = (item: T) => {
          const bytes = opts.encode(item);
          if (!bytes) return;
          if ((controller.desiredSize ?? 0) <= 0) {
            this.dropped++;
            return;
          }
          controller.enqueue(bytes);
        };
        for (const item of opts.initial ?? []) push(item);
        const unsubscribe = opts.subscribe(push);
        stop = () => {
          unsubscribe();
          this.#open.delete(end);
        };
        end = () => {
          stop();
          try {
            controller.close();
          } catch {
            // already closed or errored
          }
        };
        this.#open.add(end);
      },
      cancel: () => stop(),
    }, new CountQueuingStrategy({ highWaterMark: opts.queue ?? 1024 }));
  }

  /** Ends every open stream. */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }
}

const streams = new WeakSet<Response>();

/** A 200 reply that streams `body` for as long as the client reads (no Content-Length, no write deadline). */
export function streamingReply(body: ReadableStream<Uint8Array>, contentType: string): Response {
  const res = new Response(body, { status: 200, headers: { "content-type": contentType, "cache-control": "no-store" } });
  streams.add(res);
  return res;
}

/** Whether a reply streams by design (made by streamingReply). */
export function isStreamingReply(res: Response): boolean {
  return streams.has(res);
}
