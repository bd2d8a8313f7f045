// The real side of ClusterTools.presentToken: one HTTPS request from this process, the token in its
// Authorization header. kubectl cannot take a token but in argv (visible to other users) or a kubeconfig file
// (on disk; /dev/stdin cannot be opened on the socket Node gives a child as stdin), so no tool is run.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TokenAnswer, TokenProbe } from './cluster-tools.js';

export function presentTokenOverHttps(probe: TokenProbe, options: { signal: AbortSignal; timeoutMs: number }): Promise<TokenAnswer> {
  let url: URL;
  try {
    url = new URL('/api', probe.server);
  } catch {
    return Promise.resolve({ error: `"${probe.server.slice(0, 80)}" is not an API server URL` });
  }
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { Authorization: `Bearer ${probe.token}`, Accept: 'application/json' },
        ...(probe.caData ? { ca: Buffer.from(probe.caData, 'base64') } : {}),
        signal: options.signal,
        timeout: options.timeoutMs,
      },
      (response) => {
        response.resume();
        resolve({ status: response.statusCode ?? 0 });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(options.timeoutMs / 1000)}s`)));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end();
  });
}
