// Small helpers for messages that read right: "1 request", "2 requests", "an install run".

// "1 request", "3 requests".
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

// "an install", "a verify".
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}

// The candidate a mistyped `word` most likely meant: within a small edit distance (a third of its length, at
// least 1; a swap of two neighbours counts once), or that it begins (at least 3 characters). Closest first.
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const typed = word.toLowerCase();
  const limit = Math.max(1, Math.floor(typed.length / 3));
  let best: { value: string; score: number } | undefined;
  for (const candidate of candidates) {
    const d = editDistance(typed, candidate.toLowerCase());
    const score = d <= limit ? d : typed.length >= 3 && candidate.toLowerCase().startsWith(typed) ? limit + 0.5 : Number.POSITIVE_INFINITY;
    if (score < (best?.score ?? Number.POSITIVE_INFINITY)) best = { value: candidate, score };
  }
  return best?.value;
}

// Edits (insert, delete, replace, swap neighbours) from a to b: the optimal string alignment distance.
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      let d = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = d;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

// Known values for a one-line message: all of them, or the first `max` and how many there are.
export function listOf(values: readonly string[], max = 12): string {
  return values.length <= max ? values.join(', ') : `${values.slice(0, max).join(', ')} … (${values.length} in all)`;
}
