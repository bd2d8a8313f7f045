// A bearer token leaves mesh-run only inside TLS. The probe (rotation's revocation check, verify's sync
// diagnosis) is pointed at a local plain-HTTP server that records every connection: none may arrive.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenAnswer } from '../adapters/cluster-tools.js';
import { createExecaTools } from '../adapters/execa-tools.js';
import { presentTokenOverHttps } from '../adapters/token-probe.js';
import { revokeToken } from '../engine/activities/rotation.js';
import { tokenFingerprint } from '../engine/activities/secrets-audit.js';
import type { StepRuntime } from '../engine/activities/step-runtime.js';
import { diagnoseUnsynced } from '../engine/activities/sync-diagnosis.js';
import { loadConfig } from '../engine/config/mesh-config.js';
import { simHarness } from './support/sim.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.plain-http-probe.c2lnbmF0dXJl';
const options = () => ({ signal: new AbortController().signal, timeoutMs: 5_000 });

let server: Server;
let port = 0;
// What reached the server: connections opened, and requests with their Authorization header.
const seen = { connections: 0, requests: [] as Array<string | undefined> };

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.requests.push(req.headers.authorization);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
  });
  server.on('connection', () => {
    seen.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen.connections = 0;
  seen.requests = [];
});

// Give a stray request time to arrive before counting.
const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

// A remote secret for cluster2 whose kubeconfig names `server`, carrying `token`.
function remoteSecret(server: string, token: string) {
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    `clusters: [{name: cluster2, cluster: {server: "${server}"}}]`,
    'contexts: [{name: cluster2, context: {cluster: cluster2, user: cluster2}}]',
    `users: [{name: cluster2, user: {token: "${token}"}}]`,
    '',
  ].join('\n');
  return { metadata: { name: 'istio-remote-secret-cluster2' }, data: { cluster2: Buffer.from(kubeconfig).toString('base64') } };
}

// A step runtime whose kubectl answers `get secret <name>` from `secrets` (and records every argv), and whose
// tokens go through the real probe.
function fakeRuntime(secrets: Record<string, unknown>, argvs: string[][] = []): StepRuntime {
  return {
    signal: new AbortController().signal,
    now: Date.now,
    note: () => {},
    observe: async () => {},
    report: async () => {},
    run: async (command) => {
      argvs.push([...command.args]);
      const name = command.args[command.args.indexOf('secret') + 1] ?? '';
      const found = command.args.includes('get') ? secrets[name] : undefined;
      if (command.args.includes('get') && !found) return { exitCode: 1, stdout: '', stderr: `Error from server (NotFound): secrets "${name}" not found` };
      return { exitCode: 0, stdout: found ? JSON.stringify(found) : '', stderr: '' };
    },
    pipe: () => Promise.reject(new Error('no pipes here')),
    presentToken: (probe) => presentTokenOverHttps(probe, options()),
  };
}

function expectRefused(answer: TokenAnswer): void {
  expect(answer).toEqual({ refused: expect.stringContaining('is plain HTTP: mesh-run sends a bearer token only over HTTPS, so the token was not sent') });
}

describe('a token never leaves over plain HTTP', () => {
  it('the real probe refuses an http: server with the reason, and nothing reaches it', async () => {
    const answer = await presentTokenOverHttps(
      { server: `http://127.0.0.1:${port}`, token: TOKEN, access: { verb: 'list', group: '', resource: 'pods' } },
      options(),
    );
    expectRefused(answer);
    await settle();
    expect(seen).toEqual({ connections: 0, requests: [] });
  });

  it('so does the real adapter (HTTP://, any case), and a scheme that is not https: at all', async () => {
    const tools = createExecaTools({ kubectl: 'kubectl', istioctl: 'istioctl' });
    expectRefused(await tools.presentToken({ server: `HTTP://127.0.0.1:${port}/`, token: TOKEN }, options()));
    expect(await tools.presentToken({ server: `ws://127.0.0.1:${port}`, token: TOKEN }, options())).toEqual({
      refused: expect.stringContaining('is not an https: URL'),
    });
    await settle();
    expect(seen).toEqual({ connections: 0, requests: [] });
  });

  it('the same server over https: is dialled (the recorder sees it): the refusal is the scheme, not the address', async () => {
    const answer = await presentTokenOverHttps({ server: `https://127.0.0.1:${port}`, token: TOKEN }, options());
    // A TLS handshake against a plain-HTTP listener fails; the connection was made, no request was read.
    expect(answer).toHaveProperty('error');
    await settle();
    expect(seen.connections).toBeGreaterThan(0);
    expect(seen.requests).toEqual([]);
  });

  it('a dry run applies the same rule: the simulated API server is never asked over http:', async () => {
    const sim = await simHarness();
    try {
      expectRefused(await sim.tools.presentToken({ server: 'http://10.11.0.1:6443', token: TOKEN }, options()));
      // The same address over https: is the simulated cluster2, which answers.
      expect(await sim.tools.presentToken({ server: 'https://10.11.0.1:6443', token: TOKEN }, options())).toEqual({ status: 401 });
    } finally {
      await sim.close();
    }
  });

  it("verify's sync diagnosis names the plain-HTTP address in a remote secret and the fix, and sends nothing", async () => {
    const rt = fakeRuntime({ 'istio-remote-secret-cluster2': remoteSecret(`http://127.0.0.1:${port}`, TOKEN) });
    const found = await diagnoseUnsynced(rt, { name: 'cluster1', context: 'cluster1' }, 'cluster2');
    expect(found.cause).toBe(
      `the remote secret for cluster2 on cluster1 names its API server as http://127.0.0.1:${port}, and http://127.0.0.1:${port} is plain HTTP: mesh-run sends a bearer token only over HTTPS, so the token was not sent (istiod would send it in the clear too)`,
    );
    expect(found.hint).toContain('set remotes[].apiServer for cluster2 to its https:// address');
    expect(`${found.cause} ${found.hint}`).not.toContain(TOKEN);
    await settle();
    expect(seen).toEqual({ connections: 0, requests: [] });
  });

  it('secrets rotate stops before revoking an old token it could only check over plain HTTP: nothing deleted, nothing sent', async () => {
    const OLD = `${TOKEN}-old`;
    const argvs: string[][] = [];
    const rt = fakeRuntime(
      {
        'istio-remote-secret-cluster2': remoteSecret(`http://127.0.0.1:${port}`, TOKEN),
        'reader-token-old': {
          type: 'kubernetes.io/service-account-token',
          metadata: { name: 'reader-token-old', labels: { 'app.kubernetes.io/managed-by': 'mesh-run' } },
          data: { token: Buffer.from(OLD).toString('base64') },
        },
      },
      argvs,
    );
    const input = {
      runId: 'r',
      step: 'revoke-token' as const,
      cluster: 'cluster2',
      context: 'cluster2',
      holders: [{ name: 'cluster1', context: 'cluster1' }],
      syncTimeoutMs: 1_000,
      minted: {
        secret: 'reader-token-new',
        fingerprint: tokenFingerprint(TOKEN),
        previous: [{ secret: 'reader-token-old', fingerprint: tokenFingerprint(OLD) }],
        finishedAt: 0,
      },
    };
    const failed = await revokeToken(rt, input, { config: loadConfig(undefined).config }).catch((error: Error & { hint?: string }) => error);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).message).toBe(
      `cannot check the old token ${tokenFingerprint(OLD)} of cluster2 is refused once revoked: http://127.0.0.1:${port} is plain HTTP: mesh-run sends a bearer token only over HTTPS, so the token was not sent; nothing was deleted`,
    );
    expect((failed as { hint?: string }).hint).toContain('set remotes[].apiServer for cluster2 to its https:// address');
    expect(argvs.filter((a) => a.includes('delete'))).toEqual([]);
    await settle();
    expect(seen).toEqual({ connections: 0, requests: [] });
  });
});
