import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTransient } from '../engine/activities/failures.js';
import { backoffDelay } from '../engine/runtime/retry.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { attemptsOf, readJournal } from './support/journal.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('retry policy', () => {
  const policy = { attempts: 5, initialDelayMs: 100, maxDelayMs: 1000, factor: 2 };

  it('backs off exponentially with jitter, capped', () => {
    expect([2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, 0))).toEqual([50, 100, 200, 400, 500]);
    expect([2, 3, 4, 5, 6].map((n) => backoffDelay(policy, n, 0.999))).toEqual([100, 200, 400, 800, 1000]);
  });

  it.each([
    ['Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout', true],
    ['error: etcdserver: request timed out', true],
    ['Error from server (InternalError): Internal error occurred: etcdserver: leader changed', true],
    ['Error from server (ServiceUnavailable): the server is currently unable to handle the request', true],
    ['dial tcp 127.0.0.1:6443: connect: connection refused', true],
    ['Error from server (Forbidden): namespaces is forbidden: User "x" cannot create resource', false],
    ['error: You must be logged in to the server (Unauthorized)', false],
    ['error: context "nope" does not exist', false],
    ['Error from server (NotFound): services "x" not found', false],
    [
      '✘ Istiod encountered an error: failed to wait for resource: resources not ready after 5m0s: context deadline exceeded: Deployment/istio-system/istiod (container failed to start: ImagePullBackOff)',
      false,
    ],
  ])('classifies %j as transient=%s', (text, transient) => {
    expect(isTransient(text)).toBe(transient);
  });

  const config = join(tmp.dir, 'quick-retry.yaml');
  writeFileSync(config, 'retry: {attempts: 3, initialDelay: 10ms, maxDelay: 40ms}\n');

  it('gives up after the configured attempts on a failure that stays transient, keeping every attempt', async () => {
    const db = join(tmp.dir, 'exhaust.db');
    const result = await runCli([
      'install',
      '--dry-run',
      '--sim-lb-delay',
      '0',
      '--config',
      config,
      '--inject-failure',
      'expose-istiod:5:transient',
      '-q',
      '--db',
      db,
    ]);
    expect(result.code).toBe(1);
    const id = runIdFrom(result);
    expect(attemptsOf(await readJournal(db, id), 'expose-istiod', 'cluster1').map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed']);
    // Two injected failures are left: the resumed step retries through them.
    const resumed = await runCli(['resume', id, '--db', db, '-q']);
    expect(resumed.code).toBe(0);
    expect(attemptsOf(await readJournal(db, id), 'expose-istiod', 'cluster1').map((a) => a.outcome)).toEqual([
      'failed',
      'failed',
      'failed',
      'failed',
      'failed',
      'succeeded',
    ]);
  });

  it('fails at once on a permanent failure, without retrying', async () => {
    const db = join(tmp.dir, 'permanent.db');
    const result = await runCli([
      'install',
      '--dry-run',
      '--sim-lb-delay',
      '0',
      '--config',
      config,
      '--inject-failure',
      'annotate-remote-namespace@cluster2:3',
      '-q',
      '--db',
      db,
    ]);
    expect(result.code).toBe(1);
    const journal = await readJournal(db, runIdFrom(result));
    const attempts = attemptsOf(journal, 'annotate-remote-namespace', 'cluster2');
    expect(attempts.map((a) => a.outcome)).toEqual(['failed']);
    expect(attempts[0]?.error?.message).toContain('(Forbidden)');
  });
});
