// RFC 4180 CSV: fields with commas, quotes or line breaks are quoted, quotes doubled.
export function csv(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  const cell = (v: string | number | null) => {
    const text = v === null ? '' : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return `${[headers, ...rows].map((r) => r.map(cell).join(',')).join('\r\n')}\r\n`;
}
