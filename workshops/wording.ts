/** "1 key", "2 keys", "0 keys": a count and its noun, agreeing. */
export function countOf(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
