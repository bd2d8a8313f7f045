// Small helpers for messages that read right: "1 request", "2 requests", "an install run".

// "1 request", "3 requests".
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

// "an install", "a verify".
export function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}
