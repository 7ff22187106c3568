/** Suggestions for typos: the known words closest to what was typed. Pure: the console's page uses it too. */

/** Edit distance between two short strings (insertions, deletions, substitutions, transpositions). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidates closest to `word` (a typo's likely meaning), best first; none when nothing is close. */
export function closest(word: string, candidates: readonly string[]): string[] {
  const w = word.toLowerCase();
  const scored = candidates
    .map((c) => ({ c, d: distance(w, c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(1, Math.floor(c.length / 3)) || (w.length >= 3 && c.toLowerCase().startsWith(w)));
  return scored.sort((a, b) => a.d - b.d || a.c.localeCompare(b.c)).slice(0, 3).map(({ c }) => c);
}

/** " (did you mean X?)" for the closest candidates, or "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const near = closest(word, candidates);
  return near.length ? `; did you mean ${near.map((c) => `'${c}'`).join(" or ")}?` : "";
}
