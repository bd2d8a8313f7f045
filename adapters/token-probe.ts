// The real side of ClusterTools.presentToken: HTTPS requests from this process, the token in their
// Authorization header. kubectl cannot take a token but in argv (visible to other users) or a kubeconfig file
// (on disk; /dev/stdin cannot be opened on the socket Node gives a child as stdin), so no tool is run.
import { request as httpsRequest } from 'node:https';
import type { AccessQuestion, TokenAnswer, TokenProbe } from './cluster-tools.js';

type Reply = { status: number; body: string } | { error: string };

// A bearer token is a password: it leaves this process only inside TLS. Why `server` may not be sent one
// (plain http:, or any scheme but https:), or undefined when it may. The simulator applies the same rule.
export function tokenTransportRefusal(server: string): string | undefined {
  let protocol: string;
  try {
    protocol = new URL(server).protocol;
  } catch {
    return undefined; // not a URL: the request itself says so, and nothing is sent
  }
  if (protocol === 'https:') return undefined;
  const shown = server.slice(0, 80);
  return protocol === 'http:'
    ? `${shown} is plain HTTP: mesh-run sends a bearer token only over HTTPS, so the token was not sent`
    : `${shown} is not an https: URL: mesh-run sends a bearer token only over HTTPS, so the token was not sent`;
}

// One request with the token; a reply's body is read only for a POST (a review's answer, never a Secret).
function send(probe: TokenProbe, path: string, options: { signal: AbortSignal; timeoutMs: number }, body?: string): Promise<Reply> {
  let url: URL;
  try {
    url = new URL(path, probe.server);
  } catch {
    return Promise.resolve({ error: `"${probe.server.slice(0, 80)}" is not an API server URL` });
  }
  // Checked again on the resolved URL, the one the request goes to.
  if (url.protocol !== 'https:') return Promise.resolve({ error: tokenTransportRefusal(url.href) ?? `${url.protocol} is not https:` });
  return new Promise((resolve) => {
    const req = httpsRequest(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        headers: {
          Authorization: `Bearer ${probe.token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(probe.caData ? { ca: Buffer.from(probe.caData, 'base64') } : {}),
        signal: options.signal,
        timeout: options.timeoutMs,
      },
      (response) => {
        if (body === undefined) {
          response.resume();
          resolve({ status: response.statusCode ?? 0, body: '' });
          return;
        }
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error) => resolve({ error: error.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(options.timeoutMs / 1000)}s`)));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end(body);
  });
}

// Whether the token's subject may `access` cluster-wide, as the API server's authorizer answers it.
async function review(probe: TokenProbe, access: AccessQuestion, options: { signal: AbortSignal; timeoutMs: number }): Promise<boolean | undefined> {
  const body = JSON.stringify({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SelfSubjectAccessReview',
    spec: { resourceAttributes: { verb: access.verb, group: access.group, resource: access.resource } },
  });
  const reply = await send(probe, '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', options, body);
  if ('error' in reply || reply.status !== 201) return undefined;
  try {
    return (JSON.parse(reply.body) as { status?: { allowed?: boolean } }).status?.allowed === true;
  } catch {
    return undefined;
  }
}

export async function presentTokenOverHttps(probe: TokenProbe, options: { signal: AbortSignal; timeoutMs: number }): Promise<TokenAnswer> {
  const refused = tokenTransportRefusal(probe.server);
  if (refused) return { refused };
  const reply = await send(probe, '/api', options);
  if ('error' in reply) return reply;
  if (reply.status !== 200 || !probe.access) return { status: reply.status };
  const allowed = await review(probe, probe.access, options);
  return allowed === undefined ? { status: reply.status } : { status: reply.status, allowed };
}
