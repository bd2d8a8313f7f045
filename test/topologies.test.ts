// Every topology from one config shape: each shipped example goes from empty simulated clusters to a verified
// mesh and back, running exactly the steps its shape asks for; the simulator refuses traffic that a missing
// step would break (a network's gateway, a shared root), so a verify that passes means the steps were there.

import { appendFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../engine/config/mesh-config.js';
import { shapeOf } from '../engine/config/mesh-shape.js';
import { type RunKind, stepSlots } from '../machines/steps.js';
import { runIdFrom, tempDir } from './support/cli.js';
import { runCli } from './support/cli-here.js';
import { copyExamples } from './support/examples.js';
import { attemptsOf, type Journal, readJournal } from './support/journal.js';
import { simCommand } from './support/sim.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
// The examples are copied: their trust.outputDir (./certs) is written next to the config.
const examples = join(tmp.dir, 'examples');
copyExamples(examples);
const example = (name: string) => join(examples, `${name}.yaml`);
let dbCount = 0;
const freshDb = () => join(tmp.dir, `topo-${dbCount++}.db`);
const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];

async function ok(args: string[]): Promise<string> {
  const result = await runCli(args);
  expect(result.code, `${args.join(' ')}\n${result.stderr}`).toBe(0);
  return runIdFrom(result);
}

// Every slot of the shape ran once and succeeded; no slot outside the shape ran.
function expectExactlyTheShape(journal: Journal, kind: RunKind, name: string): void {
  const shape = shapeOf(loadConfig(example(name)).config);
  const slots = stepSlots(kind, shape);
  for (const slot of slots)
    expect(
      attemptsOf(journal, slot.step, slot.cluster).map((a) => a.outcome),
      `${kind} ${slot.step}@${slot.cluster}`,
    ).toEqual(['succeeded']);
  const ran = new Set(journal.attempts.map((a) => `${a.step}@${a.cluster}`));
  expect([...ran].sort()).toEqual(slots.map((s) => `${s.step}@${s.cluster}`).sort());
}

// The remote secrets a simulated primary holds, by the cluster they read.
async function secretsOn(db: string, world: string, context: string): Promise<string[]> {
  const listed = await simCommand(db, world, context, ['get', 'secret', '-n', 'istio-system', '-l', 'istio/multiCluster=true', '-o', 'name']);
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace('secret/istio-remote-secret-', ''))
    .sort();
}

// Everything Istio-shaped left in a simulated cluster.
const istioLeft = (objects: readonly string[]) =>
  objects.filter((o) => /istio|"name":"sample"/.test(o) && /"kind":"(Namespace|CustomResourceDefinition|MutatingWebhookConfiguration|Deployment)"/.test(o));

const TOPOLOGIES = [
  {
    name: 'primary-remote-multi-network',
    topology: 'primary-remote multi-network',
    secrets: { cluster1: ['cluster2'] },
  },
  {
    name: 'multi-primary',
    topology: 'multi-primary',
    secrets: { cluster1: ['cluster2'], cluster2: ['cluster1'] },
  },
  {
    name: 'multi-primary-multi-network',
    topology: 'multi-primary multi-network',
    secrets: { cluster1: ['cluster2'], cluster2: ['cluster1'] },
  },
  {
    name: 'mixed-fleet',
    topology: 'mixed',
    // Every primary reads every other cluster: each istiod sees the whole mesh.
    secrets: { 'east-1': ['east-2', 'east-3', 'west-1', 'west-2'], 'west-1': ['east-1', 'east-2', 'east-3', 'west-2'] },
  },
] as const;

describe('every topology from one config shape (dry run)', () => {
  it.each(TOPOLOGIES)('$name: install, verify and uninstall run exactly the steps of its shape', async ({ name, topology, secrets }) => {
    const db = freshDb();
    const install = await ok(['install', ...FAST, '-c', example(name), '--db', db]);
    const installed = await readJournal(db, install);
    expect(installed.run.topology).toBe(topology);
    expectExactlyTheShape(installed, 'install', name);
    for (const [primary, expected] of Object.entries(secrets)) expect(await secretsOn(db, installed.run.simWorld, primary), primary).toEqual(expected);

    const verify = await ok(['verify', '--run', install, '--db', db, '-q']);
    expectExactlyTheShape(await readJournal(db, verify), 'verify', name);

    const uninstall = await ok(['uninstall', '--run', install, '--db', db, '-q']);
    const removed = await readJournal(db, uninstall);
    expectExactlyTheShape(removed, 'uninstall', name);
    for (const [context, objects] of Object.entries(removed.cluster)) expect(istioLeft(objects), context).toEqual([]);
    // Every secret left every primary before any Istio was removed.
    const order = removed.attempts.map((a) => `${a.step}@${a.cluster}`);
    const lastDetach = Math.max(...order.map((s, i) => (s.startsWith('detach-remote') ? i : -1)));
    const firstRemoval = order.findIndex((s) => s.startsWith('uninstall-'));
    expect(lastDetach).toBeLessThan(firstRemoval);
  });

  it('multi-network: a kept istio-system gets its network label back as it was (removed, or the old value)', async () => {
    const db = freshDb();
    const config = example('multi-primary-multi-network');
    const failed = await runCli(['install', ...FAST, '-c', config, '--inject-failure', 'preflight', '--db', db]);
    const id = runIdFrom(failed);
    // Before mesh-run: an unlabelled istio-system on cluster1, one labelled with an older network on cluster2.
    for (const context of ['cluster1', 'cluster2']) await simCommand(db, id, context, ['create', 'namespace', 'istio-system']);
    await simCommand(db, id, 'cluster2', ['label', 'namespace', 'istio-system', 'topology.istio.io/network=legacy']);
    const resumed = await runCli(['resume', id, '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(
      /warning: label-network@cluster2: label topology\.istio\.io\/network on namespace istio-system of cluster2: "legacy" -> "network2"/,
    );
    const label = async (context: string) =>
      (await simCommand(db, id, context, ['get', 'namespace', 'istio-system', '-o', 'jsonpath={.metadata.labels.topology\\.istio\\.io/network}'])).stdout;
    expect(await label('cluster1')).toBe('network1');
    await ok(['uninstall', '--run', id, '--db', db, '-q']);
    expect(await label('cluster1')).toBe('');
    expect(await label('cluster2')).toBe('legacy');
  });

  it('mixed fleet: failures in three branches at once, resumed, finish without redoing what succeeded', async () => {
    const db = freshDb();
    const faults = ['label-network@east-3', 'expose-services@west-1', 'exchange-secret@west-2'];
    const failed = await runCli(['install', ...FAST, '-c', example('mixed-fleet'), '--db', db, ...faults.flatMap((f) => ['--inject-failure', f])]);
    expect(failed.code, failed.stderr).toBe(1);
    const id = runIdFrom(failed);
    // Branches that did not fail went as far as they could.
    const first = await readJournal(db, id);
    expect(attemptsOf(first, 'install-remote', 'east-2').map((a) => a.outcome)).toEqual(['succeeded']);
    for (let i = 0; i < faults.length; i++) {
      const journal = await readJournal(db, id);
      if (journal.run.status === 'succeeded') break;
      await runCli(['resume', id, '--db', db, '-q']);
    }
    const journal = await readJournal(db, id);
    expect(journal.run.status).toBe('succeeded');
    const shape = shapeOf(loadConfig(example('mixed-fleet')).config);
    for (const slot of stepSlots('install', shape)) {
      const key = `${slot.step}@${slot.cluster}`;
      expect(
        attemptsOf(journal, slot.step, slot.cluster).map((a) => a.outcome),
        key,
      ).toEqual(faults.includes(key) ? ['failed', 'succeeded'] : ['succeeded']);
    }
    await ok(['verify', '--run', id, '--db', db, '-q']);
  });

  // What each sabotage takes away, and what a real mesh would then fail to do.
  it.each([
    {
      what: "cluster2's cross-network Gateway is deleted",
      args: ['delete', 'gateway.networking.istio.io', 'cross-network-gateway', '-n', 'istio-system'],
    },
    { what: "cluster2's istio-system loses its network label", args: ['label', 'namespace', 'istio-system', 'topology.istio.io/network-'] },
    { what: "cluster2's cacerts is deleted (its istiod signs under a root of its own)", args: ['delete', 'secret', 'cacerts', '-n', 'istio-system'] },
  ])('multi-primary multi-network: verify fails when $what', async ({ args }) => {
    const db = freshDb();
    // A check that cannot pass gives up after 2 s instead of Istio's 2 minutes.
    const config = join(examples, `impatient-${dbCount}.yaml`);
    copyFileSync(example('multi-primary-multi-network'), config);
    appendFileSync(config, '\nverify:\n  timeout: 2s\n');
    const install = await ok(['install', ...FAST, '-c', config, '--db', db]);
    const world = (await readJournal(db, install)).run.simWorld;
    const sabotage = await simCommand(db, world, 'cluster2', args);
    expect(sabotage.exitCode, sabotage.stderr).toBe(0);
    const verify = await runCli(['verify', '--run', install, '--db', db, '-q']);
    expect(verify.code).toBe(1);
    // cluster1 reaches only its own v1: what lives on cluster2 is out of its reach.
    expect(verify.stderr).toMatch(/failed at check-traffic@cluster1: .*v1/);
  });

  it('plan --format sh for multi-primary sends each primary’s secret to the other', async () => {
    const result = await runCli(['plan', '-c', example('multi-primary'), '--format', 'sh']);
    expect(result.code, result.stderr).toBe(0);
    for (const [from, to] of [
      ['cluster1', 'cluster2'],
      ['cluster2', 'cluster1'],
    ])
      expect(result.stdout).toContain(`istioctl create-remote-secret --context=${from} --name=${from} -n istio-system | kubectl --context=${to} apply`);
    expect(result.stdout).toContain('# Istio multi-primary: 2 primaries, 0 remotes, 1 network; mesh mesh1.');
  });

  it('config check shows the derived topology and every cluster’s place in it', async () => {
    const result = await runCli(['config', 'check', '-c', example('mixed-fleet'), '--json']);
    expect(result.code, result.stderr).toBe(0);
    const view = JSON.parse(result.stdout) as {
      topology: string;
      summary: string;
      clusters: Array<{ name: string; role: string; network: string; eastWestGateway: boolean; secretOn: string[]; steps: { install: string[] } }>;
    };
    expect(view.topology).toBe('mixed');
    expect(view.summary).toBe('mixed: 2 primaries, 3 remotes, 2 networks');
    const east3 = view.clusters.find((c) => c.name === 'east-3');
    // A remote on another network than its primary carries its own gateway; its secret reaches both primaries.
    expect(east3).toMatchObject({ role: 'remote', network: 'west', eastWestGateway: true, secretOn: ['east-1', 'west-1'] });
    expect(east3?.steps.install).toContain('exchange-secret');
    const text = await runCli(['config', 'check', '-c', example('mixed-fleet')]);
    expect(text.stdout.split('\n')[0]).toBe('mixed: 2 primaries, 3 remotes, 2 networks; mesh fleet; root of trust: generated');
  });

  it('install names the mesh it derived when it starts', async () => {
    const result = await runCli(['install', '--dry-run', '--sim-lb-delay', '0', '-c', example('multi-primary'), '--db', freshDb()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/run mr-\w+ started \(dry-run; multi-primary: 2 primaries, 0 remotes, 1 network\)/);
  });
});
