// Scrubs credentials from anything captured before it is journaled or printed.
// Three nets, applied in order: Secrets found as JSON or YAML keep their keys but lose their values;
// credential-looking fields, headers, flags and JSON Web Tokens are replaced wherever they appear; and a
// base64 blob that decodes to a credential is replaced whole (a Secret's `data`, a kubeconfig, a token).
import { parseAllDocuments, stringify } from 'yaml';

const REPLACEMENT = '[REDACTED]';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

// A quote as it appears in plain text or escaped inside a JSON string (\" and \\\").
const Q = String.raw`(?:\\*["'])`;

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // kubeconfig and secret fields that carry credentials, plain or inside JSON strings
  [
    new RegExp(
      String.raw`((?:^|\s|\\n|${Q}|\{|,)(?:token|client-key-data|client-certificate-data|password|id-token|refresh-token|access-token)${Q}?\s*[:=]\s*)(${Q}?)(?!\[REDACTED\])[^\s"'\\,}]+`,
      'gim',
    ),
    `$1$2${REPLACEMENT}`,
  ],
  // Authorization headers
  [/(Bearer\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]+/gi, `$1${REPLACEMENT}`],
  // JSON Web Tokens (service-account tokens) wherever they appear
  [/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REPLACEMENT],
  // PEM private keys
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REPLACEMENT],
  // --token=..., --password=... flags
  [/(--(?:token|password|client-key)=)\S+/gi, `$1${REPLACEMENT}`],
];

// What makes a decoded blob a credential: a token field, a JWT, a private key.
const CREDENTIAL = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.|(?:^|\s|")(?:token|client-key-data|password)"?\s*:|PRIVATE KEY-----/m;
const BASE64_RUN = /[A-Za-z0-9+/_-]{24,}={0,2}/g;

// Returns `text` with every credential-looking value replaced.
export function redact(text: string): string {
  if (text.length === 0) return text;
  let out = redactSecretObjects(text);
  out = redactLastAppliedOfSecrets(out);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return redactEncodedCredentials(out);
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
  // A huge output (every CRD as JSON) is redacted from a window well before the cut, at a line start.
  let window = text;
  if (text.length > 256 * 1024) {
    const from = text.indexOf('\n', text.length - 64 * 1024);
    window = text.slice(from < 0 ? text.length - 64 * 1024 : from + 1);
  }
  const clean = redact(window);
  if (clean.length <= max) return clean;
  return `…${clean.slice(clean.length - max + 1)}`;
}

// ---- Secrets as structured documents ----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Blanks the values of every Secret inside `value` (a Secret, a List of them, anything nesting one).
function scrubSecrets(value: Json): boolean {
  if (Array.isArray(value)) return value.map(scrubSecrets).some(Boolean);
  if (!isObject(value)) return false;
  let changed = false;
  if (value.kind === 'Secret') {
    for (const field of ['data', 'stringData']) {
      const data = value[field];
      if (!isObject(data)) continue;
      for (const key of Object.keys(data)) data[key] = REPLACEMENT;
      changed = true;
    }
    const annotations = isObject(value.metadata) ? value.metadata.annotations : undefined;
    if (isObject(annotations) && LAST_APPLIED in annotations) {
      annotations[LAST_APPLIED] = REPLACEMENT;
      changed = true;
    }
  }
  for (const child of Object.values(value)) if (scrubSecrets(child)) changed = true;
  return changed;
}

// Output that parses whole as JSON or YAML and holds a Secret is rewritten with the Secret's values blanked.
function redactSecretObjects(text: string): string {
  if (!/Secret/.test(text)) return text;
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(trimmed) as Json;
      return scrubSecrets(parsed) ? `${JSON.stringify(parsed, null, 4)}\n` : text;
    } catch {
      // not one JSON document: the line-based nets below still apply
    }
  }
  if (!/kind:\s*Secret/.test(text)) return text;
  try {
    const docs = parseAllDocuments(text);
    if (docs.some((d) => d.errors.length > 0)) return text;
    const values = docs.map((d) => d.toJS() as Json);
    if (!values.map(scrubSecrets).some(Boolean)) return text;
    return `${values.map((v) => stringify(v).trimEnd()).join('\n---\n')}\n`;
  } catch {
    return text;
  }
}

// The last-applied annotation of a Secret is a copy of the whole Secret, values included: a line (or a
// YAML block) carrying it is cut back to its key when it mentions a Secret, in any quoting.
function redactLastAppliedOfSecrets(text: string): string {
  if (!text.includes(LAST_APPLIED)) return text;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const at = line.indexOf(LAST_APPLIED);
    if (at < 0) continue;
    const keyEnd = at + LAST_APPLIED.length;
    const rest = line.slice(keyEnd);
    const block = /^\s*["']?\s*:\s*[|>][-+]?\s*$/.test(rest);
    if (block) {
      // YAML block scalar: the value is the more-indented lines that follow.
      const indent = /^\s*/.exec(line)?.[0].length ?? 0;
      let j = i + 1;
      while (j < lines.length && ((lines[j] as string).trim() === '' || (/^\s*/.exec(lines[j] as string)?.[0].length ?? 0) > indent)) j++;
      const value = lines.slice(i + 1, j).join('\n');
      if (/Secret/.test(value)) lines.splice(i + 1, j - i - 1, `${' '.repeat(indent + 2)}${REPLACEMENT}`);
    } else if (/Secret/.test(rest)) {
      const sep = /^(\\*["']?\s*[:=]\s*)/.exec(rest)?.[1] ?? '';
      const quoted = rest.slice(sep.length).startsWith('"');
      const comma = line.trimEnd().endsWith(',') ? ',' : '';
      lines[i] = `${line.slice(0, keyEnd)}${sep}${quoted ? `"${REPLACEMENT}"` : REPLACEMENT}${comma}`;
    }
  }
  return lines.join('\n');
}

// A base64 blob that decodes to a credential (a Secret's data, a kubeconfig, a token) is replaced whole.
function redactEncodedCredentials(text: string): string {
  return text.replace(BASE64_RUN, (run) => (decodesToCredential(run) ? REPLACEMENT : run));
}

function decodesToCredential(run: string): boolean {
  const standard = run.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (standard.length % 4 === 1) return false;
  const decoded = Buffer.from(standard, 'base64').toString('latin1');
  if (CREDENTIAL.test(decoded)) return true;
  // One level deeper: base64 inside base64 (a kubeconfig's client-key-data in a Secret's data).
  const inner = decoded.match(BASE64_RUN);
  return (inner ?? []).some((r) => r.length >= 32 && CREDENTIAL.test(Buffer.from(r.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('latin1')));
}
