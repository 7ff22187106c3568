/**
 * What a leader knows about one peer's log and how it feeds it: probe (one
 * message at a time until the match point is found), replicate (pipelined up
 * to a limit) or snapshot (waiting for a snapshot to be installed).
 */

/** The replication state of one peer, as tracked by the leader. */
export class Progress {
  /** Highest index known to be durable on the peer. */
  match = 0;
  /** Next index to send. */
  next: number;
  /** How the leader currently feeds this peer. */
  state: "probe" | "replicate" | "snapshot" = "probe";
  /** Probe: a message is out and unanswered. */
  paused = false;
  /** Replicate: last index of each unacknowledged append. */
  inflight: number[] = [];
  /** Snapshot: index of the snapshot sent, and when. */
  snapshotIndex = 0;
  snapshotSentAt = -Infinity;
  /** Tick of the last answer from this peer. */
  lastHeard: number;
  /** Whether match moved since the last heartbeat (else pipelined messages were probably lost). */
  progressed = false;
  /** The commit index last sent to this peer. */
  commitSent = 0;

  /** A peer whose log is assumed to end at `lastIndex`, last heard at tick `now`. */
  constructor(lastIndex: number, now: number) {
    this.next = lastIndex + 1;
    this.lastHeard = now;
  }

  /**
   * Applies a successful answer up to `index`; returns true if match moved.
   * An answer covering the snapshot sent ends the snapshot state even when
   * match does not move: a snapshot at or below match (e.g. the bootstrap one,
   * index 0, sent to a joining node) is acknowledged with an index <= match.
   */
  ack(index: number): boolean {
    this.paused = false;
    if (index <= this.match) {
      if (this.state === "snapshot" && index >= this.snapshotIndex) this.toProbe();
      return false;
    }
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.inflight = this.inflight.filter((i) => i > index);
    this.progressed = true;
    if (this.state === "probe") this.state = "replicate";
    else if (this.state === "snapshot" && index >= this.snapshotIndex) this.toProbe();
    return true;
  }

  /** Applies a rejection of prevIndex `rejected` by a peer whose log ends at `hint`; true if worth resending. */
  reject(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false; // stale
      this.toProbe();
      return true;
    }
    if (this.state === "snapshot" || rejected !== this.next - 1) return false; // stale
    this.next = Math.max(this.match + 1, Math.min(rejected, hint + 1));
    this.paused = false;
    return true;
  }

  /** Back to probing from just after match. */
  toProbe(): void {
    this.state = "probe";
    this.next = this.match + 1;
    this.inflight = [];
    this.paused = false;
  }

  /** A snapshot up to `index` was sent at tick `now`. */
  toSnapshot(index: number, now: number): void {
    this.state = "snapshot";
    this.snapshotIndex = index;
    this.snapshotSentAt = now;
    this.inflight = [];
  }

  /** True if another append with entries may go out now. */
  canSend(maxInflight: number): boolean {
    if (this.state === "probe") return !this.paused;
    if (this.state === "replicate") return this.inflight.length < maxInflight;
    return false;
  }

  /** Records an append carrying entries up to `last`. */
  sent(last: number): void {
    if (this.state === "probe") this.paused = true;
    else if (this.state === "replicate") {
      this.inflight.push(last);
      this.next = last + 1;
    }
  }
}
