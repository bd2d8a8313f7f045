// The crash matrix's second template (issue 30): a primary-remote multi-network mesh installed with a generated
// CA kept in trust.outputDir, drifted where the newer repairs act: the primary's east-west gateway Service
// deleted while another load-balanced Service took its address (the gateway comes back elsewhere and the
// remote follows: repair-gateway, then repair-remote), and cacerts deleted on the primary (repair-trust plugs
// the kept CA in again). Killed at a crash point and resumed, the repair must end as an uninterrupted one: the
// run succeeded, its journal complete, no finished step run twice (crashAndResume), drift finding nothing, and
// cacerts holding the mesh's root, never a second one minted. Shared by test/repair-crash.test.ts and
// test/deep/repair-crash.deep.test.ts.
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from './cli.js';
import { type Choose, copyDb, crashAndResume, type Matrix, onlyRunId, reference, tryPoints } from './crash-resume.js';
import * as engine from './engine.js';
import { type Journal, readJournal } from './journal.js';
import { driftOf, REPAIR_ARGS } from './repair-crash.js';
import { simCommand } from './sim.js';

export const TRUST_DRIFTED = ['east-west-gateway@cluster1', 'cacerts-missing@cluster1'];
export const TRUST_REPAIR_STEPS = ['repair-gateway@cluster1', 'repair-remote@cluster2', 'repair-trust@cluster1'];

const GATEWAY = ['-n', 'istio-system', 'service', 'istio-eastwestgateway'];

// The SHA-256 fingerprint of a PEM certificate (its first).
const printOf = (pem: string) => new X509Certificate(pem).fingerprint256;

interface Template {
  db: string;
  world: string;
  // The generated root the mesh was installed under (trust.outputDir/root-cert.pem).
  root: string;
  certs: string;
}

async function kubectl(t: { db: string; world: string }, context: string, args: string[], stdin?: string): Promise<string> {
  const result = await simCommand(t.db, t.world, context, args, stdin !== undefined ? { stdin } : {});
  expect(result.exitCode, `kubectl ${args.join(' ')}: ${result.stderr}`).toBe(0);
  return result.stdout;
}

// The installed mesh in `db`, with the two drifts made by hand on its simulated clusters.
async function trustTemplate(dir: string, db: string): Promise<Template> {
  const certs = join(dir, 'trust-certs');
  const config = join(dir, 'trust-mesh.yaml');
  // The example primary-remote-multi-network.yaml with a CA generated and kept (2048-bit: only the speed differs).
  writeFileSync(
    config,
    [
      'meshID: mesh1',
      'clusters:',
      '  - {name: cluster1, context: cluster1, role: primary, network: network1}',
      '  - {name: cluster2, context: cluster2, role: remote, network: network2}',
      `trust: {outputDir: ${JSON.stringify(certs)}, keySize: 2048}`,
      '',
    ].join('\n'),
  );
  const run = await engine.install(db, { config });
  expect(run.status).toBe('succeeded');
  const t = { db, world: (await readJournal(db, run.id)).run.simWorld };
  const root = printOf(readFileSync(join(certs, 'root-cert.pem'), 'utf8'));
  expect(await cacertsRoot(t)).toBe(root);
  // The gateway's Service gone and its address taken meanwhile: the gateway installed again gets another.
  const svc = JSON.parse(await kubectl(t, 'cluster1', ['get', ...GATEWAY, '-o', 'json'])) as { status: { loadBalancer: { ingress: Array<{ ip: string }> } } };
  const old = svc.status.loadBalancer.ingress[0]?.ip as string;
  await kubectl(t, 'cluster1', ['delete', ...GATEWAY]);
  const squatter = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'squatter', namespace: 'istio-system' },
    spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
  };
  await kubectl(t, 'cluster1', ['apply', '-f', '-'], JSON.stringify({ ...squatter, status: { loadBalancer: { ingress: [{ ip: old }] } } }));
  await kubectl(t, 'cluster1', ['-n', 'istio-system', 'delete', 'secret', 'cacerts']);
  return { ...t, root, certs };
}

// The root cacerts on the primary holds, fingerprinted (read here, in the test, from the simulator).
async function cacertsRoot(t: { db: string; world: string }): Promise<string> {
  const secret = JSON.parse(await kubectl(t, 'cluster1', ['-n', 'istio-system', 'get', 'secret', 'cacerts', '-o', 'json'])) as { data: Record<string, string> };
  return printOf(Buffer.from(secret.data['root-cert.pem'] as string, 'base64').toString());
}

// Acts a step takes only after observing they are needed (cacerts created, the gateway's and the remote's
// istioctl install): a step resumed after its act finds it done and does not act again.
const GATED_ACTS = [
  'repair-trust kubectl --context=cluster1 create -f -',
  'repair-gateway istioctl install --context=cluster1 -y -f -',
  'repair-remote istioctl install --context=cluster2 -y -f -',
];
function gatedActs(journal: Journal): Record<string, number> {
  const stepOf = new Map(journal.attempts.map((a) => [a.id, a.step]));
  const done = journal.commands.filter((c) => c.exitCode === 0).map((c) => `${stepOf.get(c.attemptId ?? -1)} ${c.argv.join(' ')}`);
  return Object.fromEntries(GATED_ACTS.map((act) => [act, done.filter((d) => d === act).length]));
}
const ONCE = Object.fromEntries(GATED_ACTS.map((act) => [act, 1]));

async function crashRepair(t: Template, db: string, n: number, expected: Journal['cluster']): Promise<'resumed'> {
  await crashAndResume(REPAIR_ARGS, db, 'repair', n, expected);
  let id = await onlyRunId(db, 'repair');
  if (!id) {
    // Killed before the run was recorded: nothing was changed, and repair again finds the same drift.
    expect((await driftOf(db)).found, `point ${n}: drift after a kill before the run`).toEqual(expect.arrayContaining(TRUST_DRIFTED));
    const again = await runCli([...REPAIR_ARGS, '--db', db]);
    expect(again.code, `point ${n}: repair again: ${again.stderr}`).toBe(0);
    id = (await onlyRunId(db, 'repair')) as string;
    expect((await readJournal(db, id)).cluster, `point ${n}: simulated clusters`).toEqual(expected);
  }
  const after = await driftOf(db);
  expect(after.found, `point ${n}: drift left after the resumed repair`).toEqual([]);
  expect(after.code, `point ${n}: drift's exit code`).toBe(0);
  const journal = await readJournal(db, id);
  expect(journal.events.at(-1)?.type, `point ${n}: the run's last event`).toBe('succeeded');
  // At most once: killed between an act and its record, the act's own record stays without an exit code.
  for (const [act, times] of Object.entries(gatedActs(journal))) expect(times, `point ${n}: "${act}" completed`).toBeLessThanOrEqual(1);
  expect(await cacertsRoot({ db, world: t.world }), `point ${n}: cacerts' root`).toBe(t.root);
  expect(printOf(readFileSync(join(t.certs, 'root-cert.pem'), 'utf8')), `point ${n}: the kept root`).toBe(t.root);
  return 'resumed';
}

// The repair of the second template killed at each point `choose` picks; each point from a copy of it.
export async function trustRepairMatrix(dir: string, choose: Choose): Promise<Matrix & { steps: string[]; drifted: string[] }> {
  const template = join(dir, 'trust-template.db');
  const t = await trustTemplate(dir, template);
  const drifted = (await driftOf(template)).found;
  const referenceDb = join(dir, 'trust-reference.db');
  copyDb(template, referenceDb);
  const { expected, points } = await reference(REPAIR_ARGS, referenceDb, 'repair', join(dir, 'trust-trace.txt'));
  const ran = await readJournal(referenceDb, (await onlyRunId(referenceDb, 'repair')) as string);
  const steps = [...new Set(ran.attempts.map((a) => `${a.step}@${a.cluster}`).filter((s) => /^repair-/.test(s)))].sort();
  expect(gatedActs(ran)).toEqual(ONCE);
  expect(await cacertsRoot({ db: referenceDb, world: t.world })).toBe(t.root);
  const chosen = choose(points);
  const tally = await tryPoints(chosen, points, async (n) => {
    const db = join(dir, `trust-crash-${n}.db`);
    copyDb(template, db);
    return crashRepair(t, db, n, expected);
  });
  return { points, chosen, tally, steps, drifted };
}
