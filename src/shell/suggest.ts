/** Edit distance with adjacent transpositions (`lcok` is one edit from `lock`). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known names close to `input`, nearest first: within a third of the name's length
 * (at least one edit), or names that `input` is the start of (`ver` → verify, vendor).
 */
export function suggest(input: string, known: readonly string[]): string[] {
  const lower = input.toLowerCase();
  const limit = Math.max(1, Math.floor(lower.length / 3));
  return known
    .map((k) => ({ k, d: lower.length >= 2 && k.startsWith(lower) ? 0.5 : editDistance(lower, k) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || (x.k < y.k ? -1 : 1))
    .map((x) => x.k);
}
