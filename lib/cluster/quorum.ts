/**
 * Quorums. Writes need every voter (N of N): that is what lets any single node
 * answer reads. Elections need a simple majority, so two candidates can never
 * both win one term.
 */

/** The highest index every voter holds durably (0 if there are no voters). */
export function committedIndex(voters: readonly number[], match: (id: number) => number): number {
  if (voters.length === 0) return 0;
  let min = Infinity;
  for (const id of voters) min = Math.min(min, match(id));
  return min;
}

/** Outcome of an election so far, given the answers received (true = granted). */
export function voteResult(voters: readonly number[], votes: ReadonlyMap<number, boolean>): "won" | "lost" | "pending" {
  const need = Math.floor(voters.length / 2) + 1;
  let yes = 0;
  let no = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) yes++;
    else if (v === false) no++;
  }
  if (yes >= need) return "won";
  if (voters.length - no < need) return "lost";
  return "pending";
}
