/** What a running node gives its APIs to be watched and controlled. */
import type { AuditHub } from "../audit/hub.ts";
import type { Feeds } from "../log/feed.ts";
import type { Metrics } from "../metrics/metrics.ts";

/** The watching and control side of a node (or an edge server). */
export interface NodeOps {
  /** Undefined when metrics are switched off. */
  readonly metrics?: Metrics;
  /** Undefined when auditing is switched off. */
  readonly audit?: AuditHub;
  /** The open log and audit streams. */
  readonly feeds: Feeds;
  /** Open client connections. */
  connections(): number;
  /**
   * Restarts this server process after the current reply: a graceful stop,
   * then the same program with the same arguments. Undefined where the
   * process cannot restart itself (in-process tests).
   */
  readonly restart?: () => void;
}
