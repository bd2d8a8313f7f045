// The canary-upgrade tests' mesh (test/upgrade*.test.ts): mesh1 on three simulated clusters ctx1..ctx3. Reads
// what an upgrade may change there, drives an upgrade that fails at a named point, and sweeps every point for
// the two promises a stopped upgrade makes: rolled back it is the mesh it found, resumed it is the mesh an
// uninterrupted upgrade leaves. Each test file brings its own mesh (setup) and revision.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli-here.js';
import * as engine from './engine.js';
import { simCommand } from './sim.js';

export const CONTEXTS = ['ctx1', 'ctx2', 'ctx3'];

// mesh1's config: cluster1 the primary, cluster2 and cluster3 its remotes, one network; on `revision`, or
// without one on Istio's default control plane.
export function meshConfig(revision?: string): string {
  return `meshID: mesh1
${revision ? `revision: ${revision}\n` : ''}clusters:
  - { name: cluster1, context: ctx1, role: primary, network: network1 }
  - { name: cluster2, context: ctx2, role: remote, controlPlane: cluster1, network: network1 }
  - { name: cluster3, context: ctx3, role: remote, controlPlane: cluster1, network: network1 }
`;
}

export interface Mesh {
  db: string;
  world: string;
}
// A fresh mesh for the sweeps, its files named after `name`.
export type MeshSetup = (name: string) => Promise<Mesh>;
// context -> the sorted rows of meshState.
export type MeshState = Record<string, string[]>;

type Item = { metadata: { name: string; namespace?: string; labels?: Record<string, string> }; webhooks?: Array<{ namespaceSelector?: unknown }> };

// `config` (YAML) installed in a database of its own under `dir` and verified (the sample workload runs on every
// cluster), with one more workload on cluster2: namespace payments, labelled `injection` (a YAML map entry)
// and team=payments, running Deployment api, whose pod starts (injected) before anything else happens.
export async function meshWithPayments(dir: string, name: string, config: string, injection: string): Promise<Mesh> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, config);
  const db = join(dir, `${name}.db`);
  // Driven in this process: the mesh is the setup, the upgrade the subject.
  const install = await engine.install(db, { config: file });
  expect(install.status).toBe('succeeded');
  expect((await engine.verify(db, { mesh: 'mesh1' })).status).toBe('succeeded');
  const world = install.run.simWorld;
  const ns = `apiVersion: v1\nkind: Namespace\nmetadata: { name: payments, labels: { ${injection}, team: payments } }\n`;
  const api =
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: api, namespace: payments }\nspec:\n  selector: { matchLabels: { app: api } }\n  template:\n    metadata: { labels: { app: api } }\n    spec: { containers: [{ name: api, image: api:1 }] }\n';
  await apply(db, world, 'ctx2', `${ns}---\n${api}`);
  expect((await simCommand(db, world, 'ctx2', ['get', 'pods', '-n', 'payments'])).exitCode).toBe(0);
  return { db, world };
}

// kubectl ... -o json on one cluster: a list (items) or one object.
export async function kube(db: string, world: string, context: string, args: string[]): Promise<{ items?: Item[] } & Item> {
  const result = await simCommand(db, world, context, [...args, '-o', 'json']);
  return JSON.parse(result.stdout || '{}') as { items?: Item[] } & Item;
}

export async function apply(db: string, world: string, context: string, yaml: string): Promise<void> {
  expect((await simCommand(db, world, context, ['apply', '-f', '-'], { stdin: yaml })).exitCode).toBe(0);
}

// Everything an upgrade may change on each cluster, but the pods it restarts: namespaces with their labels, the
// webhooks (revisions, tags, and whether they inject at all), istio-system's deployments, services, endpoint
// slices (a remote's istiod has one per revision, which istioctl uninstall leaves) and istiod routes.
export async function meshState(db: string, world: string): Promise<MeshState> {
  const state: MeshState = {};
  for (const ctx of CONTEXTS) {
    const rows: string[] = [];
    for (const ns of (await kube(db, world, ctx, ['get', 'namespaces'])).items ?? [])
      rows.push(`ns ${ns.metadata.name} ${JSON.stringify(Object.fromEntries(Object.entries(ns.metadata.labels ?? {}).sort()))}`);
    for (const hook of (await kube(db, world, ctx, ['get', 'mutatingwebhookconfigurations'])).items ?? []) {
      const inert = (hook.webhooks ?? []).some((w) => JSON.stringify(w.namespaceSelector ?? {}).includes('never-match'));
      rows.push(
        `webhook ${hook.metadata.name} rev=${hook.metadata.labels?.['istio.io/rev']} tag=${hook.metadata.labels?.['istio.io/tag']}${inert ? ' inert' : ''}`,
      );
    }
    for (const kind of ['deployments', 'services', 'endpointslices', 'virtualservices.networking.istio.io'])
      for (const o of (await kube(db, world, ctx, ['get', kind, '-n', 'istio-system'])).items ?? [])
        rows.push(`${kind} ${o.metadata.name} rev=${o.metadata.labels?.['istio.io/rev']}`);
    state[ctx] = rows.sort();
  }
  return state;
}

// context/namespace/app -> the revision of its proxy ("none" without one), on every cluster.
export async function proxies(db: string, world: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const ctx of CONTEXTS)
    for (const p of (await kube(db, world, ctx, ['get', 'pods', '-A'])).items ?? [])
      out[`${ctx}/${p.metadata.namespace}/${p.metadata.labels?.app}`] = p.metadata.labels?.['istio.io/rev'] ?? 'none';
  return out;
}

// How many runs the database records (a refusal must add none).
export async function runsIn(db: string): Promise<number> {
  const listed = await runCli(['runs', '--json', '--db', db]);
  return (JSON.parse(listed.stdout) as unknown[]).length;
}

// An upgrade of mesh1 to `revision` with a failure injected at `point`, driven in this process (the sweeps'
// subject is the run, not the CLI): it must stop there.
export async function upgradeFailingAt(db: string, revision: string, point: string): Promise<engine.EngineRun> {
  const failed = await engine.upgrade(db, 'mesh1', revision, { injectFailure: [point] });
  expect(failed.status, point).toBe('failed');
  expect(engine.stoppedAt(failed), point).toBe(point);
  return failed;
}

const slug = (point: string) => point.replace('@', '-');

// For every point: a fresh mesh, upgraded to `revision` until it fails there and rolled back, is the mesh before.
export async function rollbackFromEveryPoint(setup: MeshSetup, revision: string, points: string[]): Promise<void> {
  for (const point of points) {
    const { db, world } = await setup(`phase-${slug(point)}`);
    const before = await meshState(db, world);
    const failed = await upgradeFailingAt(db, revision, point);
    expect((await engine.rollback(db, failed.id)).status, point).toBe('succeeded');
    expect(await meshState(db, world), point).toEqual(before);
  }
}

// For every point: a fresh mesh, upgraded to `revision` until it fails there and resumed, is the mesh an
// uninterrupted upgrade leaves.
export async function resumeFromEveryPoint(setup: MeshSetup, revision: string, points: string[]): Promise<void> {
  const reference = await setup('resume-reference');
  expect((await engine.upgrade(reference.db, 'mesh1', revision)).status).toBe('succeeded');
  const expected = await meshState(reference.db, reference.world);
  for (const point of points) {
    const { db, world } = await setup(`resume-${slug(point)}`);
    const failed = await upgradeFailingAt(db, revision, point);
    expect((await engine.resume(db, failed.id)).status, point).toBe('succeeded');
    expect(await meshState(db, world), point).toEqual(expected);
  }
}
