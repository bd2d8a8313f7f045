// Scrubs credentials from anything captured before it is journaled or printed.

const REPLACEMENT = '[REDACTED]';

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // kubeconfig and secret fields that carry credentials
  [/((?:^|\s|"|')(?:token|client-key-data|client-certificate-data|password|id-token|refresh-token|access-token)["']?\s*[:=]\s*)("?)[^\s"',}]+\2/gim, `$1$2${REPLACEMENT}$2`],
  // Authorization headers
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${REPLACEMENT}`],
  // JSON Web Tokens (service-account tokens) wherever they appear
  [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REPLACEMENT],
  // --token=..., --password=... flags
  [/(--(?:token|password|client-key)=)\S+/gi, `$1${REPLACEMENT}`],
];

// Returns `text` with every credential-looking value replaced.
export function redact(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

// Redacts each argv element; a value following --token/--password is replaced whole.
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let hideNext = false;
  for (const arg of argv) {
    if (hideNext) {
      out.push(REPLACEMENT);
      hideNext = false;
      continue;
    }
    if (/^--(token|password|client-key)$/i.test(arg)) hideNext = true;
    out.push(redact(arg));
  }
  return out;
}

// Keeps the last `max` characters of redacted output, marking the cut.
export function redactedTail(text: string, max = 2000): string {
  const clean = redact(text);
  if (clean.length <= max) return clean;
  return `…${clean.slice(clean.length - max + 1)}`;
}
