// The remote secret's bearer token, pinned for a test process and the CLIs it starts (MESH_RUN_SIM_TOKEN), and
// the places it could leak to: searched by test/secrets.test.ts and test/deep/secrets-sweep.deep.test.ts.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { expect, inject } from 'vitest';
import type { ClusterTools, Command } from '../../adapters/cluster-tools.js';
import { type PostgresLocation, parseStoreLocation } from '../../store/location.js';
import { withSimTools } from './sim.js';
import { findLeak, needlesFor } from './token-scan.js';

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');
export const TOKEN = `${b64('{"alg":"RS256","kid":"test"}')}.${b64('{"sub":"system:serviceaccount:istio-system:istio-reader-service-account"}')}.${b64(randomBytes(96))}`;
export const NEEDLES = needlesFor(TOKEN);
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
// The environment of the CLIs that must hand out TOKEN.
export const tokenEnv = { MESH_RUN_SIM_TOKEN: TOKEN };

// Runs `fn` with the simulated clusters of this process handing out `token` (TOKEN unless a test pins its own).
export async function withToken<T>(fn: () => Promise<T>, token = TOKEN): Promise<T> {
  const previous = process.env.MESH_RUN_SIM_TOKEN;
  process.env.MESH_RUN_SIM_TOKEN = token;
  try {
    return await fn();
  } finally {
    if (previous === undefined) delete process.env.MESH_RUN_SIM_TOKEN;
    else process.env.MESH_RUN_SIM_TOKEN = previous;
  }
}

// Runs commands on a dry run's simulated clusters the way an operator with kubectl would.
function onSim(db: string, world: string, run: (tools: ClusterTools) => Promise<void>): Promise<void> {
  return withToken(() => withSimTools(db, world, run));
}

const options = { signal: new AbortController().signal, timeoutMs: 10_000, step: 'preflight' as const, cluster: 'cluster1' };
const kubectl = (context: string, args: string[]): Command => ({ tool: 'kubectl', args: [`--context=${context}`, ...args], context });

// The remote secret as the primary's API server holds it (read in the test, never by mesh-run).
export async function remoteSecret(db: string, world: string): Promise<{ annotations: Record<string, string>; data: Record<string, string> } | undefined> {
  let found: { annotations: Record<string, string>; data: Record<string, string> } | undefined;
  await onSim(db, world, async (tools) => {
    const result = await tools.run(kubectl('cluster1', ['get', 'secret', 'istio-remote-secret-cluster2', '-n', 'istio-system', '-o', 'json']), options);
    if (result.exitCode !== 0) return;
    const secret = JSON.parse(result.stdout) as { metadata: { annotations?: Record<string, string> }; data: Record<string, string> };
    found = { annotations: secret.metadata.annotations ?? {}, data: secret.data };
  });
  return found;
}

// What kubectl apply without --server-side does, as an older mesh-run or a person would have applied it.
export async function applyClientSide(db: string, world: string): Promise<void> {
  await onSim(db, world, async (tools) => {
    const piped = await tools.pipe(
      { tool: 'istioctl', args: ['create-remote-secret', '--context=cluster2', '--name=cluster2', '-n', 'istio-system'], context: 'cluster2' },
      kubectl('cluster1', ['apply', '-f', '-']),
      options,
    );
    expect(piped.sink.exitCode, piped.sink.stderr).toBe(0);
  });
}

export function expectNoLeak(label: string, text: string | Buffer): void {
  const leak = findLeak(text, NEEDLES);
  expect(leak, `${label}: the token (or its base64 form) at offset ${leak?.at}: ${leak?.slice}`).toBeUndefined();
}

// Everything a PostgreSQL store holds in its schema, as text, and the server's write-ahead log.
export async function postgresContents(url: string): Promise<Array<[string, string | Buffer]>> {
  const location = parseStoreLocation(url, 'test') as PostgresLocation;
  const client = new pg.Client({ connectionString: location.connectionString });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [location.schema]);
    const dumped: Array<[string, string | Buffer]> = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${location.schema}"."${table_name}" t`);
      dumped.push([`table ${table_name}`, rows.rows.map((r) => r.row).join('\n')]);
    }
    expect(dumped.length).toBeGreaterThan(5);
    const wal = join(inject('pgSocket'), 'data', 'pg_wal');
    await client.query('SELECT pg_switch_wal()');
    for (const file of readdirSync(wal).filter((f) => /^[0-9A-F]{24}$/.test(f))) dumped.push([`pg_wal/${file}`, readFileSync(join(wal, file))]);
    return dumped;
  } finally {
    await client.end();
  }
}
