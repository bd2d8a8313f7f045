// Finds a credential in captured text or bytes in any form it could take: plain, base64 at every
// alignment (as inside a Secret's data or a base64 kubeconfig), or any 20-character slice of those.

const SLICE = 20;

function base64Forms(secret: string): string[] {
  const forms: string[] = [];
  for (const pad of ['', 'x', 'xy']) {
    for (const url of [false, true]) {
      const encoded = Buffer.from(pad + secret).toString(url ? 'base64url' : 'base64');
      // Drop the characters that depend on the bytes around the secret.
      const skip = pad.length === 0 ? 0 : pad.length + 2;
      forms.push(encoded.slice(skip, -4));
    }
  }
  return forms;
}

export interface Needles {
  slices: Set<string>;
}

// Every SLICE-character window of the secret and of its base64 forms.
export function needlesFor(secret: string): Needles {
  const slices = new Set<string>();
  for (const form of [secret, ...base64Forms(secret)]) {
    for (let i = 0; i + SLICE <= form.length; i++) slices.add(form.slice(i, i + SLICE));
  }
  return { slices };
}

// Every needle is made of these characters (a JWT's and base64's, plain or URL-safe), so a needle can only
// occur inside a run of them: only those runs are searched (the same answer, much faster on binary files).
const TOKEN_CHARS = /[A-Za-z0-9+/_.-]{20,}/g;

// The first place where any needle occurs in `haystack`, or undefined.
export function findLeak(haystack: string | Buffer, needles: Needles): { at: number; slice: string } | undefined {
  const text = typeof haystack === 'string' ? haystack : haystack.toString('latin1');
  for (const run of text.matchAll(TOKEN_CHARS)) {
    const start = run.index ?? 0;
    for (let i = 0; i + SLICE <= run[0].length; i++) {
      const slice = run[0].slice(i, i + SLICE);
      if (needles.slices.has(slice)) return { at: start + i, slice };
    }
  }
  return undefined;
}
