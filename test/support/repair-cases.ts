// The repair tests' harness: an example installed once on simulated clusters, a copy of its journal (and
// world) per case, kubectl on it as an operator types it, the drift check and repair as a scheduler calls them,
// and one case's whole round: changed, found, repaired through exactly the steps named, then no drift, verify
// passes, and a second repair has nothing to do. Every output and journal is kept for the token-leak check.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type CliResult, runIdFrom } from './cli.js';
import { runCli } from './cli-here.js';
import { copyDb } from './crash-resume.js';
import { copyExamples } from './examples.js';
import { readJournal } from './journal.js';
import { expectNoLeak, tokenEnv, withToken } from './secret-leaks.js';
import { simCommand } from './sim.js';

export interface Mesh {
  db: string;
  world: string;
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

export function repairCases(dir: string) {
  const examples = join(dir, 'examples');
  copyExamples(examples);
  const FAST = ['--dry-run', '--sim-lb-delay', '0', '-q'];
  const outputs: string[] = [];
  const dbs: string[] = [];
  let copies = 0;

  const keep = (result: CliResult): Outcome => {
    outputs.push(result.stdout, result.stderr);
    return { code: result.code ?? -1, stdout: result.stdout, stderr: result.stderr };
  };
  const cli = async (args: string[], env: Record<string, string> = {}) => keep(await runCli(args, { env: { ...tokenEnv, ...env } }));

  async function install(example: string, verb: string[] = ['install']): Promise<Mesh> {
    const db = join(dir, `${example}.db`);
    const result = await runCli([...verb, ...FAST, '-c', join(examples, `${example}.yaml`), '--db', db], { env: tokenEnv });
    expect(result.code, result.stderr).toBe(0);
    dbs.push(db);
    return { db, world: (await readJournal(db, runIdFrom(result))).run.simWorld };
  }

  function copyOf(mesh: Mesh): Mesh {
    const db = join(dir, `case-${++copies}.db`);
    copyDb(mesh.db, db);
    dbs.push(db);
    return { db, world: mesh.world };
  }

  // kubectl (or with tool: istioctl) on a simulated cluster of the mesh, as an operator would type it.
  async function kubectl(mesh: Mesh, context: string, args: string[], stdin?: string): Promise<string> {
    const result = await withToken(() => simCommand(mesh.db, mesh.world, context, args, stdin !== undefined ? { stdin } : {}));
    expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }
  const json = async <T>(mesh: Mesh, context: string, args: string[]) => JSON.parse(await kubectl(mesh, context, [...args, '-o', 'json'])) as T;

  async function driftOf(mesh: Mesh): Promise<{ code: number; found: string[] }> {
    const result = await cli(['drift', '--mesh', 'mesh1', '--db', mesh.db, '-o', 'json']);
    const report = JSON.parse(result.stdout) as { drift: Array<{ kind: string; cluster: string }> };
    return { code: result.code, found: report.drift.map((d) => `${d.kind}@${d.cluster}`) };
  }

  const repair = (mesh: Mesh, ...extra: string[]) => cli(['repair', '--mesh', 'mesh1', '--db', mesh.db, ...extra]);
  const verify = (mesh: Mesh) => cli(['verify', '--mesh', 'mesh1', '--db', mesh.db, '-q']);

  // The steps a repair run went through, in the order they started, as its journal has them.
  async function slotsOf(mesh: Mesh, stdout: string): Promise<string[]> {
    const journal = await readJournal(mesh.db, runIdFrom({ stdout } as CliResult));
    expect(journal.run.kind).toBe('repair');
    return [...new Set(journal.attempts.map((a) => (a.cluster === '*' ? a.step : `${a.step}@${a.cluster}`)))];
  }

  // After a repair: no drift, verify passes, and a second repair finds nothing to do (no run).
  async function expectClean(mesh: Mesh): Promise<void> {
    const after = await driftOf(mesh);
    expect(after.found).toEqual([]);
    expect(after.code).toBe(0);
    const verified = await verify(mesh);
    expect(verified.code, verified.stderr).toBe(0);
    const again = await repair(mesh);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to repair');
  }

  // One case: a copy of `base` changed by `change`; drift finds `expected` (and perhaps what follows from it);
  // repair exits 0 through exactly `steps` (of the repair steps), then the mesh is clean. Returns the repair's
  // output and the copy, for more checks. `flags`: repair's own (--force).
  async function expectRepaired(base: () => Mesh, change: (m: Mesh) => Promise<unknown>, expected: string[], steps: string[], flags: string[] = []) {
    const mesh = copyOf(base());
    await change(mesh);
    const before = await driftOf(mesh);
    expect(before.found).toEqual(expect.arrayContaining(expected));
    expect(before.code).toBe(5);
    const repaired = await repair(mesh, '-q', ...flags);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain('drift repaired');
    const slots = await slotsOf(mesh, repaired.stdout);
    expect(slots.filter((s) => /^(repair-|remove-stale)/.test(s)).sort()).toEqual([...steps].sort());
    await expectClean(mesh);
    return { mesh, repaired, slots };
  }

  // Someone's canary: the default revision tag's webhook made by hand (as istioctl tag set makes it), pointing at
  // revision `rev`.
  function canaryTag(m: Mesh, cluster: string, rev = 'canary'): Promise<string> {
    return kubectl(
      m,
      cluster,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'istio-revision-tag-default', labels: { 'istio.io/tag': 'default', 'istio.io/rev': rev } },
        webhooks: [{ name: 'rev.namespace.sidecar-injector.istio.io', clientConfig: { service: { name: `istiod-${rev}`, namespace: 'istio-system' } } }],
      }),
    );
  }

  // The revision the default tag's webhook points at on `cluster` (undefined: no tag).
  async function tagOf(m: Mesh, cluster: string): Promise<string | undefined> {
    const hooks = await json<{ items: Array<{ metadata: { name: string; labels?: Record<string, string> } }> }>(m, cluster, [
      'get',
      'mutatingwebhookconfigurations',
    ]);
    return hooks.items.find((h) => h.metadata.name === 'istio-revision-tag-default')?.metadata.labels?.['istio.io/rev'];
  }

  // Every output above, and every journal, is free of the test's token and its encodings.
  function expectNoLeaks(atLeast: number): void {
    expect(outputs.length).toBeGreaterThan(atLeast);
    for (const [i, out] of outputs.entries()) expectNoLeak(`output ${i}`, out);
    for (const db of dbs) for (const file of [db, `${db}-wal`]) if (existsSync(file)) expectNoLeak(file, readFileSync(file));
  }

  return { examples, cli, install, copyOf, kubectl, json, driftOf, repair, verify, slotsOf, expectClean, expectRepaired, expectNoLeaks, canaryTag, tagOf, dbs };
}
